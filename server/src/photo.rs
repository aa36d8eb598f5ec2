//! JPEG checks and processing for uploaded photos.
