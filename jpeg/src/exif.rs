//! The EXIF orientation tag, read from the bytes of an APP1 segment.

/// EXIF orientation (1..=8) from an APP1 payload, if it is an Exif segment
/// (`Exif\0\0` and a TIFF header in either byte order) whose IFD0 has a
/// valid Orientation tag (SHORT, value 1..=8). `None` for anything else,
/// including offsets that point outside the segment.
pub fn exif_orientation(app1_payload: &[u8]) -> Option<u8> {
    let tiff = app1_payload.strip_prefix(b"Exif\0\0")?;
    let little_endian = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let read_u16 = |off: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(if little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let read_u32 = |off: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    if read_u16(2)? != 42 {
        return None;
    }
    let ifd0 = usize::try_from(read_u32(4)?).ok()?;
    let count = usize::from(read_u16(ifd0)?);
    for i in 0..count {
        let entry = ifd0.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        if read_u16(entry)? != 0x0112 {
            continue;
        }
        let field_type = read_u16(entry.checked_add(2)?)?;
        let field_count = read_u32(entry.checked_add(4)?)?;
        if field_type != 3 || field_count < 1 {
            return None;
        }
        let value = read_u16(entry.checked_add(8)?)?;
        return u8::try_from(value).ok().filter(|v| (1..=8).contains(v));
    }
    None
}
