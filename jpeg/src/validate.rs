//! The strict path: every scan Huffman-decoded (symbols only, no pixels)
//! and a copy that keeps only what decoding needs.

use std::ops::Range;

use crate::error::{JpegError, corrupt, malformed};
use crate::frame::{Coding, FrameHeader};
use crate::marker::{APP0, APP14, DHT, DQT, DRI, EOI, RST0, RST7, SOS, TEM, is_sof};
use crate::strip::Stripped;
use crate::walk::{Piece, Walker, split_scan};

/// Walks the whole file, validates every scan and returns a copy that holds
/// only SOI, a minimal JFIF APP0 and Adobe APP14 (if present), DQT, DHT,
/// DRI, the frame header, the scans (header and data byte for byte) and EOI.
///
/// On top of what the [`Walker`] and [`FrameHeader::parse`] check:
///
/// - one frame header, before the first scan; Huffman-coded sequential or
///   progressive DCT with 8-bit samples ([`JpegError::Unsupported`]
///   otherwise), at most `max_scans` scans (each costs a pass over all
///   blocks);
/// - Huffman tables whose code lengths fit, scan headers that match the
///   frame and the coding process, restart markers in order;
/// - each scan must contain exactly the number of blocks the frame header
///   promises, restart interval by restart interval: truncated or corrupt
///   scan data is [`JpegError::Corrupt`], where a lenient decoder would
///   quietly return a half-grey picture.
///
/// The embedded JFIF thumbnail and everything in APP14 but the colour
/// transform are dropped, as are all other APPn, COM, TEM and trailing data.
pub fn strip_and_validate(bytes: &[u8], max_scans: usize) -> Result<Stripped, JpegError> {
    let mut walker = Walker::new(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, crate::marker::SOI]);
    let mut frame: Option<Frame> = None;
    let mut dc_tables: [Option<RawHuffman>; 4] = Default::default();
    let mut ac_tables: [Option<RawHuffman>; 4] = Default::default();
    let mut restart_interval: usize = 0;
    let mut scans = 0usize;
    let mut state = CoefficientState::default();
    let mut kept_jfif = false;
    let mut kept_adobe = false;
    let mut dropped_segments = 0usize;

    loop {
        let pos = walker.position();
        let segment = match walker.next() {
            Some(Ok(Piece::Segment(segment))) => segment,
            Some(Err(e)) => return Err(e),
            // Scan data is taken right after its SOS below; the walker only
            // stops after EOI (which ends this loop) or an error.
            Some(Ok(Piece::ScanData(_))) | None => {
                return Err(malformed("scan data without a scan header"));
            }
        };
        let marker = segment.marker;
        match marker {
            EOI => {
                if scans == 0 {
                    return Err(malformed("the file has no image data (no scan)"));
                }
                out.extend_from_slice(&[0xFF, EOI]);
                return Ok(Stripped {
                    jpeg: out,
                    dropped_segments,
                    trailing_bytes: bytes.len().saturating_sub(segment.end),
                });
            }
            RST0..=RST7 => {
                return Err(malformed(format!(
                    "restart marker outside scan data at offset {pos}"
                )));
            }
            TEM => {
                dropped_segments += 1;
                continue;
            }
            _ => {}
        }
        let payload = segment.payload(bytes);
        let whole = segment.bytes(bytes);

        match marker {
            m if is_sof(m) => {
                if frame.is_some() {
                    return Err(malformed("more than one frame header"));
                }
                let header = FrameHeader::parse(marker, payload)?;
                if header.coding() == Coding::Other {
                    return Err(unsupported_coding(marker));
                }
                if header.precision != 8 {
                    return Err(JpegError::Unsupported(format!(
                        "{}-bit samples (only 8-bit JPEG is supported)",
                        header.precision
                    )));
                }
                frame = Some(Frame::new(&header));
                out.extend_from_slice(whole);
            }
            DHT => {
                parse_dht(payload, &mut dc_tables, &mut ac_tables)?;
                out.extend_from_slice(whole);
            }
            DQT => out.extend_from_slice(whole),
            DRI => {
                let &[hi, lo] = payload else {
                    return Err(malformed("restart interval segment has the wrong length"));
                };
                restart_interval = usize::from(u16::from_be_bytes([hi, lo]));
                out.extend_from_slice(whole);
            }
            SOS => {
                let Some(frame) = frame.as_ref() else {
                    return Err(JpegError::NoFrameHeader);
                };
                scans += 1;
                if scans > max_scans {
                    return Err(JpegError::Unsupported(format!(
                        "more than {max_scans} scans"
                    )));
                }
                let header = ScanHeader::parse(payload, frame)?;
                let kind = header.kind;
                let built = header
                    .components
                    .iter()
                    .map(|c| {
                        let dc = match kind {
                            ScanKind::Sequential | ScanKind::DcFirst => {
                                dc_tables.get(c.dc_table).and_then(Option::as_ref)
                            }
                            _ => None,
                        };
                        let ac = match kind {
                            ScanKind::Sequential | ScanKind::AcFirst | ScanKind::AcRefine => {
                                ac_tables.get(c.ac_table).and_then(Option::as_ref)
                            }
                            _ => None,
                        };
                        Ok((
                            dc.map(Huffman::build).transpose()?,
                            ac.map(Huffman::build).transpose()?,
                        ))
                    })
                    .collect::<Result<Vec<_>, JpegError>>()?;
                let tables: Vec<ScanTables<'_>> = built
                    .iter()
                    .map(|(dc, ac)| ScanTables {
                        dc: dc.as_ref(),
                        ac: ac.as_ref(),
                    })
                    .collect();
                let data = match walker.next() {
                    Some(Ok(Piece::ScanData(data))) => data,
                    Some(Err(e)) => return Err(e),
                    _ => return Err(malformed("scan header without scan data")),
                };
                let (intervals, end) = split_scan(bytes, data.start)?;
                validate_scan(
                    frame,
                    &header,
                    &tables,
                    restart_interval,
                    bytes,
                    &intervals,
                    &mut state,
                )?;
                out.extend_from_slice(whole);
                out.extend_from_slice(bytes.get(data.start..end).unwrap_or_default());
            }
            APP0 if !kept_jfif && payload.starts_with(b"JFIF\0") && payload.len() >= 14 => {
                // Version, density unit and density; the embedded thumbnail
                // (which may show an older version of the photo) is dropped.
                kept_jfif = true;
                out.extend_from_slice(&[0xFF, APP0, 0x00, 0x10]);
                out.extend_from_slice(payload.get(..12).unwrap_or_default());
                out.extend_from_slice(&[0, 0]);
            }
            APP14 if !kept_adobe && payload.starts_with(b"Adobe") && payload.len() >= 12 => {
                // Only the colour transform flag matters for decoding (RGB or
                // YCbCr / CMYK or YCCK); keep version and transform, clear the rest.
                kept_adobe = true;
                out.extend_from_slice(&[0xFF, APP14, 0x00, 0x0E]);
                out.extend_from_slice(payload.get(..7).unwrap_or_default());
                out.extend_from_slice(&[0, 0, 0, 0]);
                out.extend_from_slice(payload.get(11..12).unwrap_or_default());
            }
            _ => {
                // APPn (EXIF, XMP, ICC, IPTC, MPF, ...), COM, and anything
                // else that decoding does not need.
                dropped_segments += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Frame geometry and scan headers
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct FrameComponent {
    id: u8,
    h: usize,
    v: usize,
    /// Blocks per row and rows of blocks covered by this component's data
    /// (what a non-interleaved scan of it contains).
    blocks_w: usize,
    blocks_h: usize,
    /// Blocks per row and rows when padded to whole MCUs (storage size).
    stride: usize,
    rows: usize,
}

/// A parsed frame header and the block geometry that follows from it.
#[derive(Debug, Clone)]
struct Frame {
    marker: u8,
    coding: Coding,
    components: Vec<FrameComponent>,
    mcus_x: usize,
    mcus_y: usize,
}

impl Frame {
    fn new(header: &FrameHeader) -> Frame {
        let raw = header.components();
        let h_max = raw.iter().map(|c| usize::from(c.h)).max().unwrap_or(1);
        let v_max = raw.iter().map(|c| usize::from(c.v)).max().unwrap_or(1);
        let (w, hgt) = (header.width as usize, header.height as usize);
        let mcus_x = w.div_ceil(8 * h_max);
        let mcus_y = hgt.div_ceil(8 * v_max);
        let components = raw
            .iter()
            .map(|c| {
                let (h, v) = (usize::from(c.h), usize::from(c.v));
                FrameComponent {
                    id: c.id,
                    h,
                    v,
                    blocks_w: (w * h).div_ceil(h_max).div_ceil(8),
                    blocks_h: (hgt * v).div_ceil(v_max).div_ceil(8),
                    stride: mcus_x * h,
                    rows: mcus_y * v,
                }
            })
            .collect();
        Frame {
            marker: header.marker,
            coding: header.coding(),
            components,
            mcus_x,
            mcus_y,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ScanComponent {
    /// Index into `Frame::components`.
    index: usize,
    dc_table: usize,
    ac_table: usize,
}

#[derive(Debug, Clone)]
struct ScanHeader {
    kind: ScanKind,
    components: Vec<ScanComponent>,
    ss: usize,
    se: usize,
    ah: u8,
    al: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanKind {
    Sequential,
    DcFirst,
    DcRefine,
    AcFirst,
    AcRefine,
}

impl ScanHeader {
    fn parse(payload: &[u8], frame: &Frame) -> Result<ScanHeader, JpegError> {
        let (count, rest) = match payload {
            [n, rest @ ..] => (usize::from(*n), rest),
            [] => return Err(malformed("scan header is empty")),
        };
        if count == 0 || count > 4 {
            return Err(malformed(format!(
                "scan header declares {count} components (1 to 4 allowed)"
            )));
        }
        if rest.len() != 2 * count + 3 {
            return Err(malformed(format!(
                "scan header length does not match its {count} components"
            )));
        }
        let (selectors, params) = rest.split_at(2 * count);
        let mut components: Vec<ScanComponent> = Vec::with_capacity(count);
        for pair in selectors.chunks_exact(2) {
            let &[id, tables] = pair else {
                return Err(malformed("scan header is too short"));
            };
            let index = frame
                .components
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| malformed(format!("scan uses unknown component {id}")))?;
            if components.iter().any(|c| c.index == index) {
                return Err(malformed(format!("scan lists component {id} twice")));
            }
            let (dc_table, ac_table) = (usize::from(tables >> 4), usize::from(tables & 0x0F));
            if dc_table > 3 || ac_table > 3 {
                return Err(malformed(format!(
                    "scan component {id} uses Huffman table {dc_table}/{ac_table} (0 to 3 allowed)"
                )));
            }
            components.push(ScanComponent {
                index,
                dc_table,
                ac_table,
            });
        }
        let &[ss, se, a] = params else {
            return Err(malformed("scan header is too short"));
        };
        let mut header = ScanHeader {
            kind: ScanKind::Sequential,
            components,
            ss: usize::from(ss),
            se: usize::from(se),
            ah: a >> 4,
            al: a & 0x0F,
        };
        if header.components.len() > 1 {
            let blocks: usize = header
                .components
                .iter()
                .filter_map(|c| frame.components.get(c.index))
                .map(|c| c.h * c.v)
                .sum();
            if blocks > 10 {
                return Err(malformed(format!(
                    "interleaved scan has {blocks} blocks per MCU (at most 10 allowed)"
                )));
            }
        }
        header.kind = header.scan_kind(frame)?;
        Ok(header)
    }

    fn scan_kind(&self, frame: &Frame) -> Result<ScanKind, JpegError> {
        match frame.coding {
            Coding::Sequential => {
                if self.ss != 0 || self.se != 63 || self.ah != 0 || self.al != 0 {
                    return Err(malformed(format!(
                        "sequential scan has invalid spectral selection {}..{} / approximation {}/{}",
                        self.ss, self.se, self.ah, self.al
                    )));
                }
                Ok(ScanKind::Sequential)
            }
            Coding::Progressive => {
                if self.ah > 13 || self.al > 13 {
                    return Err(malformed(
                        "progressive scan has invalid successive approximation",
                    ));
                }
                if self.ss == 0 {
                    if self.se != 0 {
                        return Err(malformed(
                            "progressive DC scan also contains AC coefficients",
                        ));
                    }
                    Ok(if self.ah == 0 {
                        ScanKind::DcFirst
                    } else {
                        ScanKind::DcRefine
                    })
                } else {
                    if self.se < self.ss || self.se > 63 {
                        return Err(malformed(format!(
                            "progressive AC scan has invalid spectral selection {}..{}",
                            self.ss, self.se
                        )));
                    }
                    if self.components.len() != 1 {
                        return Err(malformed("progressive AC scan has more than one component"));
                    }
                    Ok(if self.ah == 0 {
                        ScanKind::AcFirst
                    } else {
                        ScanKind::AcRefine
                    })
                }
            }
            Coding::Other => Err(unsupported_coding(frame.marker)),
        }
    }
}

fn unsupported_coding(marker: u8) -> JpegError {
    let what = match marker {
        0xC3 => "lossless JPEG",
        0xC5..=0xC7 => "hierarchical JPEG",
        0xC9..=0xCB => "arithmetic-coded JPEG",
        0xCD..=0xCF => "hierarchical arithmetic-coded JPEG",
        _ => "JPEG process",
    };
    JpegError::Unsupported(format!("{what} (frame marker 0xFF{marker:02X})"))
}

// ---------------------------------------------------------------------------
// Huffman tables and the bit reader
// ---------------------------------------------------------------------------

/// Codes up to this length are decoded with one table lookup.
const LOOKUP_BITS: u32 = 9;

/// A Huffman table as defined in a DHT segment (cheap to store; the decoding
/// tables are only built for tables that a scan actually uses).
#[derive(Debug, Clone)]
struct RawHuffman {
    counts: [u8; 16],
    values: Vec<u8>,
}

#[derive(Debug)]
struct Huffman {
    /// Entry = (code length << 8) | symbol, or 0 when the code is longer than
    /// `LOOKUP_BITS`.
    lookup: Vec<u16>,
    /// Index 1..=16: the largest code of that length, -1 when there is none.
    max_code: [i32; 17],
    min_code: [i32; 17],
    value_index: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn build(raw: &RawHuffman) -> Result<Huffman, JpegError> {
        let mut lookup = vec![0u16; 1 << LOOKUP_BITS];
        let mut max_code = [-1i32; 17];
        let mut min_code = [0i32; 17];
        let mut value_index = [0i32; 17];
        let mut code: u32 = 0;
        let mut k: usize = 0;
        for len in 1..=16u32 {
            let n = usize::from(raw.counts.get(len as usize - 1).copied().unwrap_or(0));
            value_index[len as usize] = k as i32;
            min_code[len as usize] = code as i32;
            for _ in 0..n {
                if code >= (1u32 << len) {
                    return Err(malformed(format!(
                        "Huffman table has too many codes of length {len}"
                    )));
                }
                let symbol = raw
                    .values
                    .get(k)
                    .copied()
                    .ok_or_else(|| malformed("Huffman table has fewer symbols than codes"))?;
                if len <= LOOKUP_BITS {
                    let shift = LOOKUP_BITS - len;
                    let first = (code << shift) as usize;
                    let entry = ((len as u16) << 8) | u16::from(symbol);
                    for slot in lookup.iter_mut().skip(first).take(1 << shift) {
                        *slot = entry;
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(Huffman {
            lookup,
            max_code,
            min_code,
            value_index,
            values: raw.values.clone(),
        })
    }
}

/// Reads the bits of one restart interval of entropy-coded data. Past the
/// end it supplies zero bits, and counts them, so that running out of data is
/// detected by comparing the bits consumed with the bits available.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next bits, most significant first; `nbits` of them are valid.
    acc: u64,
    nbits: u32,
    consumed: u64,
    available: u64,
}

impl<'a> BitReader<'a> {
    /// `data` must not contain markers: every 0xFF is followed by a stuffed 0x00.
    fn new(data: &'a [u8]) -> Self {
        let stuffed = data.windows(2).filter(|w| *w == [0xFF, 0x00]).count();
        let available = 8 * u64::try_from(data.len() - stuffed).unwrap_or(u64::MAX / 16);
        BitReader {
            data,
            pos: 0,
            acc: 0,
            nbits: 0,
            consumed: 0,
            available,
        }
    }

    fn fill(&mut self) {
        while self.nbits <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) => {
                    self.pos += 2; // skip the stuffed 0x00
                    0xFF
                }
                Some(&b) => {
                    self.pos += 1;
                    b
                }
                None => 0,
            };
            self.acc |= u64::from(byte) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    /// The next `n` (1..=16) bits without consuming them; `fill` must have run.
    fn peek(&self, n: u32) -> u32 {
        (self.acc >> (64 - n)) as u32
    }

    fn skip(&mut self, n: u32) {
        self.acc <<= n;
        self.nbits -= n;
        self.consumed += u64::from(n);
    }

    /// Reads `n` (0..=16) raw bits.
    fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        self.fill();
        let value = self.peek(n);
        self.skip(n);
        value
    }

    fn decode(&mut self, table: &Huffman) -> Result<u8, JpegError> {
        self.fill();
        let entry = table
            .lookup
            .get(self.peek(LOOKUP_BITS) as usize)
            .copied()
            .unwrap_or(0);
        if entry != 0 {
            self.skip(u32::from(entry >> 8));
            return Ok((entry & 0xFF) as u8);
        }
        for len in LOOKUP_BITS + 1..=16 {
            let code = self.peek(len) as i32;
            let l = len as usize;
            if code <= table.max_code[l] {
                self.skip(len);
                let index = table.value_index[l] + code - table.min_code[l];
                return usize::try_from(index)
                    .ok()
                    .and_then(|i| table.values.get(i).copied())
                    .ok_or_else(|| corrupt("invalid Huffman code"));
            }
        }
        Err(corrupt("invalid Huffman code in scan data"))
    }

    fn check_overrun(&self) -> Result<(), JpegError> {
        if self.consumed > self.available {
            return Err(corrupt(
                "scan data ends before all blocks of the image were decoded",
            ));
        }
        Ok(())
    }

    /// At the end of a restart interval: all data must have been used, except
    /// for the padding bits of the last byte.
    fn finish(&self) -> Result<(), JpegError> {
        self.check_overrun()?;
        let unused = self.available - self.consumed;
        if unused >= 8 {
            return Err(corrupt(format!(
                "{} bytes of scan data left over after the last block",
                unused / 8
            )));
        }
        Ok(())
    }
}

/// Per-component record of which AC coefficients (bit k = zig-zag index k) are
/// already non-zero; needed to follow progressive refinement scans.
#[derive(Debug, Default)]
struct CoefficientState {
    masks: Vec<Vec<u64>>,
}

impl CoefficientState {
    fn component(&mut self, frame: &Frame, index: usize) -> Result<&mut Vec<u64>, JpegError> {
        if self.masks.len() < frame.components.len() {
            self.masks.resize_with(frame.components.len(), Vec::new);
        }
        let comp = frame
            .components
            .get(index)
            .ok_or_else(|| corrupt("scan component out of range"))?;
        let masks = self
            .masks
            .get_mut(index)
            .ok_or_else(|| corrupt("scan component out of range"))?;
        if masks.is_empty() {
            let blocks = comp.stride * comp.rows;
            masks
                .try_reserve_exact(blocks)
                .map_err(|_| corrupt("not enough memory to check the progressive scans"))?;
            masks.resize(blocks, 0);
        }
        Ok(masks)
    }
}

/// Largest Huffman-coded magnitude category for DC differences and AC
/// coefficients of 8-bit JPEG.
const DC_MAX_CATEGORY: u8 = 11;
const AC_MAX_CATEGORY: u8 = 10;

struct ScanTables<'t> {
    dc: Option<&'t Huffman>,
    ac: Option<&'t Huffman>,
}

/// Huffman-decodes one scan (symbols only, no pixels) and checks that it
/// holds exactly the blocks the frame promises, interval by interval.
fn validate_scan(
    frame: &Frame,
    scan: &ScanHeader,
    tables: &[ScanTables<'_>],
    restart_interval: usize,
    bytes: &[u8],
    intervals: &[Range<usize>],
    state: &mut CoefficientState,
) -> Result<(), JpegError> {
    let single = match scan.components.as_slice() {
        [only] => Some(
            frame
                .components
                .get(only.index)
                .ok_or_else(|| corrupt("scan component out of range"))?,
        ),
        _ => None,
    };
    let (units_x, units_y) = match single {
        Some(comp) => (comp.blocks_w, comp.blocks_h),
        None => (frame.mcus_x, frame.mcus_y),
    };
    let total = units_x * units_y;
    let per_interval = if restart_interval == 0 {
        total
    } else {
        restart_interval
    };
    let expected = total.div_ceil(per_interval.max(1));
    if intervals.len() != expected {
        return Err(corrupt(format!(
            "scan has {} restart intervals, expected {expected}",
            intervals.len()
        )));
    }
    let kind = scan.kind;
    let mut masks = match (kind, scan.components.first()) {
        (ScanKind::AcFirst | ScanKind::AcRefine, Some(first)) => {
            Some(state.component(frame, first.index)?)
        }
        _ => None,
    };
    let mut scratch: u64 = 0;

    for (n, range) in intervals.iter().enumerate() {
        let data = bytes
            .get(range.clone())
            .ok_or_else(|| corrupt("scan interval out of range"))?;
        let mut reader = BitReader::new(data);
        let mut eobrun: u32 = 0;
        let first_unit = n * per_interval;
        let last_unit = (first_unit + per_interval).min(total);
        for unit in first_unit..last_unit {
            let (ux, uy) = (unit % units_x, unit / units_x);
            if let Some(comp) = single {
                let mask = match masks.as_deref_mut() {
                    Some(m) => m
                        .get_mut(uy * comp.stride + ux)
                        .ok_or_else(|| corrupt("block out of range"))?,
                    None => &mut scratch,
                };
                let t = tables
                    .first()
                    .ok_or_else(|| corrupt("missing scan tables"))?;
                decode_block(kind, scan, &mut reader, t, mask, &mut eobrun)?;
            } else {
                for (sc, t) in scan.components.iter().zip(tables) {
                    let comp = frame
                        .components
                        .get(sc.index)
                        .ok_or_else(|| corrupt("scan component out of range"))?;
                    for _ in 0..comp.h * comp.v {
                        decode_block(kind, scan, &mut reader, t, &mut scratch, &mut eobrun)?;
                    }
                }
            }
            reader.check_overrun()?;
        }
        reader.finish()?;
    }
    Ok(())
}

fn need(table: Option<&Huffman>) -> Result<&Huffman, JpegError> {
    table.ok_or_else(|| malformed("scan uses a Huffman table that was never defined"))
}

fn decode_block(
    kind: ScanKind,
    scan: &ScanHeader,
    r: &mut BitReader<'_>,
    tables: &ScanTables<'_>,
    mask: &mut u64,
    eobrun: &mut u32,
) -> Result<(), JpegError> {
    match kind {
        ScanKind::Sequential => {
            let (dc, ac) = (need(tables.dc)?, need(tables.ac)?);
            dc_difference(r, dc)?;
            let mut k = 1;
            while k < 64 {
                let rs = r.decode(ac)?;
                let (run, size) = (usize::from(rs >> 4), rs & 0x0F);
                if size == 0 {
                    if run != 15 {
                        break; // end of block
                    }
                    k += 16;
                    if k > 64 {
                        return Err(corrupt("zero run past the end of a block"));
                    }
                    continue;
                }
                k += run;
                if k > 63 {
                    return Err(corrupt("AC coefficient past the end of a block"));
                }
                if size > AC_MAX_CATEGORY {
                    return Err(corrupt("AC coefficient out of range"));
                }
                r.bits(u32::from(size));
                k += 1;
            }
        }
        ScanKind::DcFirst => dc_difference(r, need(tables.dc)?)?,
        ScanKind::DcRefine => {
            r.bits(1);
        }
        ScanKind::AcFirst => {
            if *eobrun > 0 {
                *eobrun -= 1;
                return Ok(());
            }
            let ac = need(tables.ac)?;
            let mut k = scan.ss;
            while k <= scan.se {
                let rs = r.decode(ac)?;
                let (run, size) = (rs >> 4, rs & 0x0F);
                if size == 0 {
                    if run < 15 {
                        *eobrun = (1u32 << run) - 1 + r.bits(u32::from(run));
                        break;
                    }
                    k += 16;
                    if k > scan.se + 1 {
                        return Err(corrupt("zero run past the end of the spectral band"));
                    }
                    continue;
                }
                k += usize::from(run);
                if k > scan.se {
                    return Err(corrupt("AC coefficient past the end of the spectral band"));
                }
                if size > AC_MAX_CATEGORY {
                    return Err(corrupt("AC coefficient out of range"));
                }
                r.bits(u32::from(size));
                *mask |= 1u64 << k;
                k += 1;
            }
        }
        ScanKind::AcRefine => {
            let mut k = scan.ss;
            if *eobrun == 0 {
                let ac = need(tables.ac)?;
                while k <= scan.se {
                    let rs = r.decode(ac)?;
                    let (mut run, size) = (rs >> 4, rs & 0x0F);
                    let new_coefficient = match size {
                        0 if run < 15 => {
                            *eobrun = (1u32 << run) + r.bits(u32::from(run));
                            break;
                        }
                        0 => false, // ZRL: skip 16 zero coefficients
                        1 => {
                            r.bits(1); // sign
                            true
                        }
                        _ => return Err(corrupt("invalid symbol in a refinement scan")),
                    };
                    while k <= scan.se {
                        if *mask & (1u64 << k) != 0 {
                            r.bits(1); // correction bit
                        } else {
                            if run == 0 {
                                break;
                            }
                            run -= 1;
                        }
                        k += 1;
                    }
                    if new_coefficient {
                        if k > scan.se {
                            return Err(corrupt("refinement past the end of the spectral band"));
                        }
                        *mask |= 1u64 << k;
                    }
                    k += 1;
                }
            }
            if *eobrun > 0 {
                while k <= scan.se {
                    if *mask & (1u64 << k) != 0 {
                        r.bits(1);
                    }
                    k += 1;
                }
                *eobrun -= 1;
            }
        }
    }
    Ok(())
}

fn dc_difference(r: &mut BitReader<'_>, dc: &Huffman) -> Result<(), JpegError> {
    let size = r.decode(dc)?;
    if size > DC_MAX_CATEGORY {
        return Err(corrupt("DC difference out of range"));
    }
    r.bits(u32::from(size));
    Ok(())
}

fn parse_dht(
    mut payload: &[u8],
    dc_tables: &mut [Option<RawHuffman>; 4],
    ac_tables: &mut [Option<RawHuffman>; 4],
) -> Result<(), JpegError> {
    while let [class_id, rest @ ..] = payload {
        let (class, id) = (class_id >> 4, usize::from(class_id & 0x0F));
        let counts: [u8; 16] = rest
            .get(..16)
            .and_then(|c| c.try_into().ok())
            .ok_or_else(|| malformed("Huffman table segment is too short"))?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 {
            return Err(malformed("Huffman table has more than 256 symbols"));
        }
        let values = rest
            .get(16..16 + total)
            .ok_or_else(|| malformed("Huffman table segment is too short"))?
            .to_vec();
        let slot = match class {
            0 => dc_tables.get_mut(id),
            1 => ac_tables.get_mut(id),
            _ => None,
        }
        .ok_or_else(|| malformed(format!("invalid Huffman table class/id {class}/{id}")))?;
        // Reject tables whose code lengths overflow now, not only when used.
        let raw = RawHuffman { counts, values };
        check_code_space(&raw.counts)?;
        *slot = Some(raw);
        payload = rest.get(16 + total..).unwrap_or_default();
    }
    Ok(())
}

fn check_code_space(counts: &[u8; 16]) -> Result<(), JpegError> {
    let mut code: u32 = 0;
    for (i, &n) in counts.iter().enumerate() {
        let len = i as u32 + 1;
        code += u32::from(n);
        if code > (1u32 << len) {
            return Err(malformed(format!(
                "Huffman table has too many codes of length {len}"
            )));
        }
        code <<= 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The DC luminance table of ITU T.81 Annex K.
    fn dc_luma() -> RawHuffman {
        RawHuffman {
            counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
            values: (0..12).collect(),
        }
    }

    #[test]
    fn huffman_decodes_standard_table() {
        let table = Huffman::build(&dc_luma()).unwrap();
        // Codes: 0 -> 00, 1 -> 010, 5 -> 110, 6 -> 1110, 11 -> 111111110
        // Bits: 00 010 110 1110 111111110 = 0001 0110 1110 1111 1111 0(pad 1s)
        let data = [0b0001_0110, 0b1110_1111, 0b1111_0111];
        let mut r = BitReader::new(&data);
        assert_eq!(r.decode(&table).unwrap(), 0);
        assert_eq!(r.decode(&table).unwrap(), 1);
        assert_eq!(r.decode(&table).unwrap(), 5);
        assert_eq!(r.decode(&table).unwrap(), 6);
        assert_eq!(r.decode(&table).unwrap(), 11);
        assert_eq!(r.consumed, 21);
        r.finish().unwrap();
    }

    #[test]
    fn huffman_long_codes_and_invalid_code() {
        // One code of each length 1..=16: code of length n is (n-1) ones and a zero.
        let raw = RawHuffman {
            counts: [1u8; 16],
            values: (0..16).collect(),
        };
        let table = Huffman::build(&raw).unwrap();
        // Code of length 12 is 1111_1111_1110.
        let data = [0xFF, 0x00, 0xE0];
        let mut r = BitReader::new(&data);
        assert_eq!(r.decode(&table).unwrap(), 11);
        // The 16-bit code is 1111_1111_1111_1110, so sixteen ones are no code.
        let data = [0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00];
        let mut r = BitReader::new(&data);
        assert!(matches!(r.decode(&table), Err(JpegError::Corrupt(_))));
    }

    #[test]
    fn huffman_rejects_overfull_table() {
        let raw = RawHuffman {
            counts: [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            values: vec![0, 1, 2],
        };
        assert!(matches!(Huffman::build(&raw), Err(JpegError::Malformed(_))));
        assert!(check_code_space(&raw.counts).is_err());
        assert!(check_code_space(&dc_luma().counts).is_ok());
    }

    #[test]
    fn dht_segments_are_checked_when_defined() {
        let mut dc: [Option<RawHuffman>; 4] = Default::default();
        let mut ac: [Option<RawHuffman>; 4] = Default::default();
        let mut table = vec![0x00];
        table.extend_from_slice(&dc_luma().counts);
        table.extend(0..12u8);
        parse_dht(&table, &mut dc, &mut ac).unwrap();
        assert!(dc[0].is_some() && ac.iter().all(Option::is_none));
        for (name, bad) in [
            ("class 2", [&[0x20][..], &table[1..]].concat()),
            ("id 4", [&[0x04][..], &table[1..]].concat()),
            ("cut counts", table[..10].to_vec()),
            ("cut symbols", table[..20].to_vec()),
            ("overfull", [&[0x10, 3][..], &[0; 15], &[1, 2, 3]].concat()),
        ] {
            assert!(
                matches!(
                    parse_dht(&bad, &mut dc, &mut ac),
                    Err(JpegError::Malformed(_))
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn bit_reader_unstuffs_and_detects_overrun() {
        let data = [0xFF, 0x00, 0x80];
        let mut r = BitReader::new(&data);
        assert_eq!(r.available, 16);
        assert_eq!(r.bits(8), 0xFF);
        assert_eq!(r.bits(1), 1);
        assert!(r.finish().is_ok()); // 7 padding bits left
        assert_eq!(r.bits(16), 0); // zeros past the end
        assert!(matches!(r.check_overrun(), Err(JpegError::Corrupt(_))));

        let data = [0x12, 0x34];
        let mut r = BitReader::new(&data);
        r.bits(4);
        assert!(matches!(r.finish(), Err(JpegError::Corrupt(_))));
    }
}
