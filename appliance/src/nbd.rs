//! A disk with a volatile write cache, served to QEMU over NBD, for the
//! power-cut soak.
//!
//! # Why
//!
//! The soak kills `qemu-system-aarch64` with SIGKILL at random moments and
//! boots the image again, to prove that the appliance survives its plug being
//! pulled. With a plain `-drive file=disk.img`, every byte QEMU has already
//! `pwrite()`n into the image survives the kill (it sits in the host's page
//! cache, and the host does not crash), so a "cut" never loses data the guest
//! wrote but did not flush. A real SD card does: it acknowledges writes from
//! a small volatile cache, and what it had not yet written to flash when the
//! power went is gone, in any subset and in any order. Only what the guest
//! flushed (or wrote with FUA) is promised to survive.
//!
//! [`VolatileDisk`] is that card: a small NBD server (the same protocol
//! QEMU's `driver=nbd` block node speaks) that keeps guest writes in memory,
//! and [`VolatileDisk::cut`] is the power loss. This is the idea of Linux's
//! `null_blk` cache emulation and of CrashMonkey / `dm-log-writes` style
//! testing, for a whole VM.
//!
//! # Semantics
//!
//! - Writes go into an in-memory cache of 4 KiB blocks; a write that covers
//!   part of a block merges with the cached copy, or with the file's current
//!   contents. Reads see the cache over the file.
//! - `NBD_CMD_FLUSH` writes every cached block to the file and empties the
//!   cache. A write (or write-zeroes) with `NBD_CMD_FLAG_FUA` goes straight to
//!   the file; cached copies of the blocks it touches are written whole and
//!   forgotten (a cache may write back anything at any time).
//! - The cache has a limit ([`DEFAULT_CACHE_LIMIT`] unless told): past it, the
//!   blocks that have been dirty longest are written back, as a card destages
//!   on its own.
//! - [`VolatileDisk::cut`] writes each unflushed block to the file with a
//!   given probability and drops the rest; then the file alone is the disk.
//!
//! "Written to the file" means `pwrite`, never `fsync`: the host does not
//! crash in this test, only QEMU dies, so the host's page cache is as good
//! as the platter.
//!
//! # Protocol
//!
//! The fixed newstyle handshake of the NBD protocol
//! (<https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md>)
//! with one export, [`EXPORT_NAME`] (the default export `""` is the same
//! disk); `NBD_OPT_GO`, `NBD_OPT_INFO`, `NBD_OPT_EXPORT_NAME`,
//! `NBD_OPT_LIST` and `NBD_OPT_ABORT`, everything else is answered
//! `NBD_REP_ERR_UNSUP` (so no structured replies: simple replies only).
//! Commands: READ, WRITE, WRITE_ZEROES (both with FUA), FLUSH, DISC. One
//! client at a time, requests handled in order.

use anyhow::{Context, bail, ensure};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The cache's unit: a block is cached, flushed, kept or dropped as a whole.
pub const BLOCK_SIZE: usize = 4096;
const BS: u64 = BLOCK_SIZE as u64;

/// "A card's cache is small."
pub const DEFAULT_CACHE_LIMIT: u64 = 64 << 20;

/// The export's name (`export=` of QEMU's `driver=nbd`).
pub const EXPORT_NAME: &str = "disk";

/// The largest READ or WRITE payload (the protocol's default maximum).
const MAX_PAYLOAD: u32 = 32 << 20;

/// Option data larger than this ends the handshake (names are at most 4 KiB).
const MAX_OPTION_DATA: u32 = 64 << 10;

/// How often the accept thread looks for a client or for the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// The protocol's numbers (see the spec's "Values" section).
mod wire {
    pub const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
    pub const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
    pub const OPTION_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
    pub const REQUEST_MAGIC: u32 = 0x2560_9513;
    pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;

    pub const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
    pub const FLAG_NO_ZEROES: u16 = 1 << 1;
    pub const FLAG_C_FIXED_NEWSTYLE: u32 = 1 << 0;
    pub const FLAG_C_NO_ZEROES: u32 = 1 << 1;

    pub const FLAG_HAS_FLAGS: u16 = 1 << 0;
    pub const FLAG_SEND_FLUSH: u16 = 1 << 2;
    pub const FLAG_SEND_FUA: u16 = 1 << 3;
    pub const FLAG_SEND_WRITE_ZEROES: u16 = 1 << 6;

    pub const OPT_EXPORT_NAME: u32 = 1;
    pub const OPT_ABORT: u32 = 2;
    pub const OPT_LIST: u32 = 3;
    pub const OPT_INFO: u32 = 6;
    pub const OPT_GO: u32 = 7;

    pub const REP_ACK: u32 = 1;
    pub const REP_SERVER: u32 = 2;
    pub const REP_INFO: u32 = 3;
    pub const REP_ERR_UNSUP: u32 = (1 << 31) + 1;
    pub const REP_ERR_INVALID: u32 = (1 << 31) + 3;
    pub const REP_ERR_UNKNOWN: u32 = (1 << 31) + 6;

    pub const INFO_EXPORT: u16 = 0;
    pub const INFO_BLOCK_SIZE: u16 = 3;

    pub const CMD_READ: u16 = 0;
    pub const CMD_WRITE: u16 = 1;
    pub const CMD_DISC: u16 = 2;
    pub const CMD_FLUSH: u16 = 3;
    pub const CMD_WRITE_ZEROES: u16 = 6;

    pub const CMD_FLAG_FUA: u16 = 1 << 0;
    pub const CMD_FLAG_NO_HOLE: u16 = 1 << 1;

    pub const EIO: u32 = 5;
    pub const EINVAL: u32 = 22;
    pub const ENOSPC: u32 = 28;
}

/// What the server counted since it started. A snapshot: see [`VolatileDisk::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Bytes the guest wrote: WRITE payloads plus WRITE_ZEROES lengths.
    pub bytes_written: u64,
    /// Bytes the guest read.
    pub bytes_read: u64,
    /// `NBD_CMD_FLUSH` requests.
    pub flushes: u64,
    /// WRITE and WRITE_ZEROES requests with `NBD_CMD_FLAG_FUA`.
    pub fua_writes: u64,
    /// Blocks in the cache now, not yet in the file (what a cut would decide on).
    pub dirty_blocks: u64,
    /// Blocks written back because the cache was over its limit.
    pub destaged_blocks: u64,
    /// Clients that connected (one per QEMU start).
    pub connections: u64,
    /// A client is connected now.
    pub connected: bool,
    /// Requests answered with an error (out of range, unknown command, I/O).
    pub error_replies: u64,
    /// Cuts so far.
    pub cuts: u64,
    /// Unflushed blocks the cuts wrote to the file after all.
    pub cut_kept_blocks: u64,
    /// Unflushed blocks the cuts lost.
    pub cut_dropped_blocks: u64,
    /// The last thing that went wrong that was not a client going away
    /// (a protocol violation, a host I/O error).
    pub last_error: Option<String>,
}

/// What a [`VolatileDisk::cut`] did with the unflushed blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutReport {
    /// Blocks that reached the file after all.
    pub kept: u64,
    /// Blocks that were lost.
    pub dropped: u64,
}

/// The image file with a write-back cache in front of it. No sockets here:
/// offsets are checked by the caller ([`Cache::in_range`]).
#[derive(Debug)]
struct Cache {
    file: File,
    size: u64,
    limit_blocks: usize,
    /// Block index → its current (unflushed) contents.
    dirty: HashMap<u64, Dirty>,
    /// When each block became dirty (a sequence number) → block index: the
    /// order in which the limit writes blocks back.
    order: BTreeMap<u64, u64>,
    next_seq: u64,
    destaged: u64,
}

#[derive(Debug)]
struct Dirty {
    seq: u64,
    data: Box<[u8]>,
}

impl Cache {
    fn open(path: &Path, limit_bytes: u64) -> anyhow::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let size = file.metadata()?.len();
        Ok(Self {
            file,
            size,
            limit_blocks: usize::try_from(limit_bytes / BS).unwrap_or(usize::MAX),
            dirty: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            destaged: 0,
        })
    }

    fn in_range(&self, offset: u64, len: u64) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.size)
    }

    /// The disk as the guest sees it: the file, with cached blocks over it.
    fn read(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        read_file(&self.file, offset, buf)?;
        if self.dirty.is_empty() || buf.is_empty() {
            return Ok(());
        }
        let end = offset + buf.len() as u64;
        for idx in offset / BS..=(end - 1) / BS {
            if let Some(d) = self.dirty.get(&idx) {
                let start = idx * BS;
                let from = offset.max(start);
                let to = end.min(start + BS);
                buf[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&d.data[(from - start) as usize..(to - start) as usize]);
            }
        }
        Ok(())
    }

    /// Writes `data` (or `len` zeroes when `data` is `None`) at `offset`.
    fn write(&mut self, offset: u64, len: u64, data: Option<&[u8]>, fua: bool) -> io::Result<()> {
        if fua {
            return self.write_through(offset, len, data);
        }
        let end = offset + len;
        let mut pos = offset;
        while pos < end {
            let idx = pos / BS;
            let start = idx * BS;
            let to = end.min(start + BS);
            let whole = pos == start && to == start + BS;
            let block = match self.dirty.entry(idx) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    let mut data = vec![0u8; BLOCK_SIZE].into_boxed_slice();
                    if !whole {
                        read_file(&self.file, start, &mut data)?;
                    }
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    self.order.insert(seq, idx);
                    v.insert(Dirty { seq, data })
                }
            };
            let dst = &mut block.data[(pos - start) as usize..(to - start) as usize];
            match data {
                Some(d) => dst.copy_from_slice(&d[(pos - offset) as usize..(to - offset) as usize]),
                None => dst.fill(0),
            }
            pos = to;
            // Inside the loop: a huge WRITE_ZEROES must not grow the cache past the limit.
            self.destage_over_limit()?;
        }
        Ok(())
    }

    /// FUA: the file gets the bytes now. A cached copy of a touched block
    /// holds older bytes for this range (and maybe unflushed bytes elsewhere
    /// in the block): it takes the new bytes, goes to the file whole and is
    /// forgotten.
    fn write_through(&mut self, offset: u64, len: u64, data: Option<&[u8]>) -> io::Result<()> {
        match data {
            Some(d) => self.file.write_all_at(d, offset)?,
            None => write_zeroes_to_file(&self.file, offset, len)?,
        }
        if self.dirty.is_empty() || len == 0 {
            return Ok(());
        }
        let end = offset + len;
        let blocks = offset / BS..=(end - 1) / BS;
        // Whichever is fewer: the blocks of the request, or the cached blocks.
        let touched: Vec<u64> = if end.div_ceil(BS) - offset / BS > self.dirty.len() as u64 {
            self.dirty
                .keys()
                .copied()
                .filter(|i| blocks.contains(i))
                .collect()
        } else {
            blocks.filter(|i| self.dirty.contains_key(i)).collect()
        };
        for idx in touched {
            let Some(d) = self.dirty.get_mut(&idx) else {
                continue;
            };
            let start = idx * BS;
            let from = offset.max(start);
            let to = end.min(start + BS);
            let dst = &mut d.data[(from - start) as usize..(to - start) as usize];
            match data {
                Some(src) => {
                    dst.copy_from_slice(&src[(from - offset) as usize..(to - offset) as usize]);
                }
                None => dst.fill(0),
            }
            write_block(&self.file, self.size, idx, &d.data)?;
            self.forget(idx);
        }
        Ok(())
    }

    /// Writes back the blocks that have been dirty longest until the cache is
    /// within its limit.
    fn destage_over_limit(&mut self) -> io::Result<()> {
        while self.dirty.len() > self.limit_blocks {
            let Some((_, &idx)) = self.order.first_key_value() else {
                break;
            };
            if let Some(d) = self.dirty.get(&idx) {
                write_block(&self.file, self.size, idx, &d.data)?;
            }
            self.forget(idx);
            self.destaged += 1;
        }
        Ok(())
    }

    /// Every cached block to the file (in block order); the cache is empty after.
    fn flush(&mut self) -> io::Result<()> {
        for idx in self.dirty_sorted() {
            if let Some(d) = self.dirty.get(&idx) {
                write_block(&self.file, self.size, idx, &d.data)?;
            }
            self.forget(idx);
        }
        Ok(())
    }

    /// The power loss: each cached block reaches the file with probability
    /// `keep_probability` (decided in block order by a generator seeded with
    /// `seed`, so a cut can be repeated), the rest is lost. The cache is empty
    /// after, even when writing a kept block fails.
    fn cut(&mut self, keep_probability: f64, seed: u64) -> io::Result<CutReport> {
        let mut rng = SplitMix64(seed);
        let mut report = CutReport::default();
        let mut result = Ok(());
        for idx in self.dirty_sorted() {
            if rng.next_f64() < keep_probability {
                if let (Ok(()), Some(d)) = (&result, self.dirty.get(&idx)) {
                    result = write_block(&self.file, self.size, idx, &d.data);
                }
                report.kept += 1;
            } else {
                report.dropped += 1;
            }
        }
        self.dirty.clear();
        self.order.clear();
        result.map(|()| report)
    }

    fn dirty_sorted(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.dirty.keys().copied().collect();
        v.sort_unstable();
        v
    }

    fn forget(&mut self, idx: u64) {
        if let Some(d) = self.dirty.remove(&idx) {
            self.order.remove(&d.seq);
        }
    }
}

/// `pread` until `buf` is full; past the end of the file reads as zeroes.
fn read_file(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => {
                buf[done..].fill(0);
                break;
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One cached block to the file (the last block of an odd-sized disk only in part).
fn write_block(file: &File, size: u64, idx: u64, data: &[u8]) -> io::Result<()> {
    let start = idx * BS;
    if start >= size {
        return Ok(());
    }
    let n = (size - start).min(BS) as usize;
    file.write_all_at(&data[..n], start)
}

fn write_zeroes_to_file(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let zeroes = vec![0u8; len.min(1 << 20) as usize];
    let mut pos = 0;
    while pos < len {
        let n = (len - pos).min(zeroes.len() as u64);
        file.write_all_at(&zeroes[..n as usize], offset + pos)?;
        pos += n;
    }
    Ok(())
}

/// A small, seedable generator (SplitMix64): which blocks a cut keeps is
/// reproducible from the seed (and the soak's choices from its seed).
#[derive(Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the accept thread and the harness share.
#[derive(Debug)]
struct Shared {
    cache: Mutex<Cache>,
    stats: Mutex<DiskStats>,
    /// The connected client (a clone of its stream, to shut it down), if any.
    client: Mutex<Option<UnixStream>>,
    /// Signalled when `client` becomes `None`.
    client_gone: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn note_error(&self, e: String) {
        lock(&self.stats).last_error = Some(e);
    }
}

/// The disk: an NBD server on a Unix socket in front of an image file, with
/// a volatile write cache. See the module documentation.
///
/// Dropping it stops the server and writes the cache back (a clean power
/// off); call [`VolatileDisk::cut`] first for a power loss.
#[derive(Debug)]
pub struct VolatileDisk {
    shared: Arc<Shared>,
    socket: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl VolatileDisk {
    /// Serves `image` (its size is the disk's size) on the Unix socket
    /// `socket` (a stale socket there is replaced) with a cache of at most
    /// `cache_limit` bytes, from a thread of its own.
    pub fn serve(image: &Path, socket: &Path, cache_limit: u64) -> anyhow::Result<Self> {
        let cache = Cache::open(image, cache_limit)?;
        if let Ok(meta) = std::fs::symlink_metadata(socket) {
            ensure!(
                meta.file_type().is_socket(),
                "{} exists and is not a socket",
                socket.display()
            );
            std::fs::remove_file(socket)
                .with_context(|| format!("removing the stale {}", socket.display()))?;
        }
        let listener = UnixListener::bind(socket)
            .with_context(|| format!("listening on {}", socket.display()))?;
        // Polled, so that the thread sees `stop` without a client.
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            cache: Mutex::new(cache),
            stats: Mutex::new(DiskStats::default()),
            client: Mutex::new(None),
            client_gone: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let thread = std::thread::Builder::new()
            .name("nbd".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || accept_loop(&shared, &listener)
            })
            .context("starting the NBD thread")?;
        Ok(Self {
            shared,
            socket: socket.to_path_buf(),
            thread: Some(thread),
        })
    }

    /// The arguments that give a QEMU guest this disk as a virtio disk with a
    /// write cache: a `-blockdev` NBD client node named `node` and a
    /// `virtio-blk-pci` device with the id `device_id`. `write-cache=on`
    /// matters: the guest then sees a volatile cache and sends flushes (which
    /// QEMU passes on as `NBD_CMD_FLUSH`); without it QEMU makes every write
    /// FUA and nothing would ever be lost.
    pub fn qemu_args(&self, node: &str, device_id: &str) -> Vec<String> {
        // QEMU's option syntax: a comma in a value is written twice.
        let path = self.socket.to_string_lossy().replace(',', ",,");
        vec![
            "-blockdev".into(),
            format!(
                "driver=nbd,node-name={node},server.type=unix,server.path={path},export={EXPORT_NAME}"
            ),
            "-device".into(),
            format!("virtio-blk-pci,id={device_id},drive={node},write-cache=on"),
        ]
    }

    /// The counters now.
    pub fn stats(&self) -> DiskStats {
        lock(&self.shared.stats).clone()
    }

    /// The power loss, for after QEMU was killed: each unflushed block is
    /// written to the file with probability `keep_probability` (0 ≤ p ≤ 1),
    /// decided reproducibly from `seed`; the others are lost.
    ///
    /// A client still connected is disconnected first, and the cut waits
    /// until the connection's thread has finished the request it is in (a
    /// request it had not started is lost with the client, as in a real
    /// power cut). A client that connects meanwhile is served after the cut,
    /// and sees the file with nothing cached.
    pub fn cut(&self, keep_probability: f64, seed: u64) -> anyhow::Result<CutReport> {
        ensure!(
            (0.0..=1.0).contains(&keep_probability),
            "keep probability {keep_probability} is not within 0..=1"
        );
        let mut client = lock(&self.shared.client);
        if let Some(stream) = client.as_ref() {
            // Fails only when the socket is gone already: nothing to undo.
            let _ = stream.shutdown(Shutdown::Both);
        }
        while client.is_some() {
            client = self
                .shared
                .client_gone
                .wait(client)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // `client` stays locked: no new client is served until the cut is done.
        let mut cache = lock(&self.shared.cache);
        let result = cache.cut(keep_probability, seed);
        drop(cache);
        let mut stats = lock(&self.shared.stats);
        stats.dirty_blocks = 0;
        stats.cuts += 1;
        if let Ok(r) = &result {
            stats.cut_kept_blocks += r.kept;
            stats.cut_dropped_blocks += r.dropped;
        }
        drop(stats);
        drop(client);
        result.context("writing the kept blocks at the cut")
    }
}

impl Drop for VolatileDisk {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(stream) = lock(&self.shared.client).as_ref() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // A clean power-off: the card writes its cache back. Errors have no
        // one to go to here.
        let _ = lock(&self.shared.cache).flush();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn accept_loop(shared: &Shared, listener: &UnixListener) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = serve_client(shared, stream) {
                    shared.note_error(format!("{e:#}"));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(e) => {
                shared.note_error(format!("accepting a client: {e}"));
                std::thread::sleep(ACCEPT_POLL);
            }
        }
    }
}

/// One client, from the handshake to its disconnect. A client going away
/// (EOF, reset, broken pipe: QEMU was killed) is not an error.
fn serve_client(shared: &Shared, stream: UnixStream) -> anyhow::Result<()> {
    stream.set_nonblocking(false)?;
    let size = lock(&shared.cache).size;
    {
        let mut client = lock(&shared.client);
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        *client = Some(stream.try_clone()?);
    }
    {
        let mut stats = lock(&shared.stats);
        stats.connections += 1;
        stats.connected = true;
    }
    let result = stream
        .try_clone()
        .map_err(anyhow::Error::from)
        .and_then(|reader| {
            Connection {
                shared,
                reader: BufReader::with_capacity(1 << 20, reader),
                writer: stream,
                size,
            }
            .run()
        });
    lock(&shared.stats).connected = false;
    *lock(&shared.client) = None;
    shared.client_gone.notify_all();
    match result {
        Err(e) if client_went_away(&e) => Ok(()),
        other => other,
    }
}

fn client_went_away(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| {
            matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            )
        })
}

/// A request header (the data of a WRITE follows it).
#[derive(Debug, Clone, Copy)]
struct Request {
    flags: u16,
    kind: u16,
    cookie: u64,
    offset: u64,
    len: u32,
}

struct Connection<'a> {
    shared: &'a Shared,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    size: u64,
}

impl Connection<'_> {
    fn run(mut self) -> anyhow::Result<()> {
        if self.handshake()? {
            self.transmission()?;
        }
        Ok(())
    }

    fn read_array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.reader.read_exact(&mut b)?;
        Ok(b)
    }

    fn transmission_flags() -> u16 {
        wire::FLAG_HAS_FLAGS
            | wire::FLAG_SEND_FLUSH
            | wire::FLAG_SEND_FUA
            | wire::FLAG_SEND_WRITE_ZEROES
    }

    fn option_reply(&mut self, option: u32, kind: u32, data: &[u8]) -> io::Result<()> {
        let mut r = Vec::with_capacity(20 + data.len());
        r.extend_from_slice(&wire::OPTION_REPLY_MAGIC.to_be_bytes());
        r.extend_from_slice(&option.to_be_bytes());
        r.extend_from_slice(&kind.to_be_bytes());
        r.extend_from_slice(&(data.len() as u32).to_be_bytes());
        r.extend_from_slice(data);
        self.writer.write_all(&r)
    }

    /// The fixed newstyle handshake. `true`: the transmission phase follows;
    /// `false`: the client aborted.
    fn handshake(&mut self) -> anyhow::Result<bool> {
        let mut hello = Vec::with_capacity(18);
        hello.extend_from_slice(&wire::NBDMAGIC.to_be_bytes());
        hello.extend_from_slice(&wire::IHAVEOPT.to_be_bytes());
        hello.extend_from_slice(&(wire::FLAG_FIXED_NEWSTYLE | wire::FLAG_NO_ZEROES).to_be_bytes());
        self.writer.write_all(&hello)?;
        let client_flags = u32::from_be_bytes(self.read_array()?);
        if client_flags & !(wire::FLAG_C_FIXED_NEWSTYLE | wire::FLAG_C_NO_ZEROES) != 0 {
            bail!("the client sent unknown handshake flags {client_flags:#x}");
        }
        let no_zeroes = client_flags & wire::FLAG_C_NO_ZEROES != 0;
        loop {
            let magic = u64::from_be_bytes(self.read_array()?);
            ensure!(magic == wire::IHAVEOPT, "bad option magic {magic:#x}");
            let option = u32::from_be_bytes(self.read_array()?);
            let len = u32::from_be_bytes(self.read_array()?);
            ensure!(
                len <= MAX_OPTION_DATA,
                "option {option} came with {len} bytes of data"
            );
            let mut data = vec![0u8; len as usize];
            self.reader.read_exact(&mut data)?;
            match option {
                wire::OPT_EXPORT_NAME => {
                    if !known_export(&data) {
                        bail!(
                            "the client asked for the unknown export {:?}",
                            String::from_utf8_lossy(&data)
                        );
                    }
                    let mut r = Vec::with_capacity(134);
                    r.extend_from_slice(&self.size.to_be_bytes());
                    r.extend_from_slice(&Self::transmission_flags().to_be_bytes());
                    if !no_zeroes {
                        r.extend_from_slice(&[0u8; 124]);
                    }
                    self.writer.write_all(&r)?;
                    return Ok(true);
                }
                wire::OPT_ABORT => {
                    // The client may be gone without waiting for this answer.
                    let _ = self.option_reply(option, wire::REP_ACK, &[]);
                    return Ok(false);
                }
                wire::OPT_LIST if !data.is_empty() => {
                    self.option_reply(option, wire::REP_ERR_INVALID, &[])?;
                }
                wire::OPT_LIST => {
                    let mut server = (EXPORT_NAME.len() as u32).to_be_bytes().to_vec();
                    server.extend_from_slice(EXPORT_NAME.as_bytes());
                    self.option_reply(option, wire::REP_SERVER, &server)?;
                    self.option_reply(option, wire::REP_ACK, &[])?;
                }
                wire::OPT_INFO | wire::OPT_GO => match parse_info_request(&data) {
                    None => self.option_reply(option, wire::REP_ERR_INVALID, &[])?,
                    Some((name, _)) if !known_export(name) => {
                        self.option_reply(option, wire::REP_ERR_UNKNOWN, &[])?;
                    }
                    Some((_, requests)) => {
                        let mut export = wire::INFO_EXPORT.to_be_bytes().to_vec();
                        export.extend_from_slice(&self.size.to_be_bytes());
                        export.extend_from_slice(&Self::transmission_flags().to_be_bytes());
                        self.option_reply(option, wire::REP_INFO, &export)?;
                        if requests.contains(&wire::INFO_BLOCK_SIZE) {
                            // Any alignment works (partial blocks merge); 4 KiB is
                            // the cache's block.
                            let mut sizes = wire::INFO_BLOCK_SIZE.to_be_bytes().to_vec();
                            sizes.extend_from_slice(&1u32.to_be_bytes());
                            sizes.extend_from_slice(&(BLOCK_SIZE as u32).to_be_bytes());
                            sizes.extend_from_slice(&MAX_PAYLOAD.to_be_bytes());
                            self.option_reply(option, wire::REP_INFO, &sizes)?;
                        }
                        self.option_reply(option, wire::REP_ACK, &[])?;
                        if option == wire::OPT_GO {
                            return Ok(true);
                        }
                    }
                },
                // NBD_OPT_STRUCTURED_REPLY, NBD_OPT_STARTTLS, meta contexts, ...
                _ => self.option_reply(option, wire::REP_ERR_UNSUP, &[])?,
            }
        }
    }

    /// Requests until the client disconnects.
    fn transmission(&mut self) -> anyhow::Result<()> {
        loop {
            let h: [u8; 28] = self.read_array()?;
            let field = |from: usize, to: usize| -> u64 {
                h[from..to]
                    .iter()
                    .fold(0u64, |v, b| (v << 8) | u64::from(*b))
            };
            let magic = field(0, 4) as u32;
            ensure!(magic == wire::REQUEST_MAGIC, "bad request magic {magic:#x}");
            let req = Request {
                flags: field(4, 6) as u16,
                kind: field(6, 8) as u16,
                cookie: field(8, 16),
                offset: field(16, 24),
                len: field(24, 28) as u32,
            };
            let payload = if req.kind == wire::CMD_WRITE {
                ensure!(
                    req.len <= MAX_PAYLOAD,
                    "a write of {} bytes (at most {MAX_PAYLOAD})",
                    req.len
                );
                let mut p = vec![0u8; req.len as usize];
                self.reader.read_exact(&mut p)?;
                Some(p)
            } else {
                None
            };
            if req.kind == wire::CMD_DISC {
                return Ok(());
            }
            let (error, data) = match self.execute(req, payload.as_deref()) {
                Ok(data) => (0, data),
                Err(errno) => {
                    lock(&self.shared.stats).error_replies += 1;
                    (errno, Vec::new())
                }
            };
            let mut header = [0u8; 16];
            header[..4].copy_from_slice(&wire::SIMPLE_REPLY_MAGIC.to_be_bytes());
            header[4..8].copy_from_slice(&error.to_be_bytes());
            header[8..].copy_from_slice(&req.cookie.to_be_bytes());
            self.writer.write_all(&header)?;
            self.writer.write_all(&data)?;
        }
    }

    /// One request against the cache: the data to send back, or an NBD errno.
    fn execute(&self, req: Request, payload: Option<&[u8]>) -> Result<Vec<u8>, u32> {
        let allowed = match req.kind {
            wire::CMD_WRITE_ZEROES => wire::CMD_FLAG_FUA | wire::CMD_FLAG_NO_HOLE,
            _ => wire::CMD_FLAG_FUA,
        };
        if req.flags & !allowed != 0 {
            return Err(wire::EINVAL);
        }
        let fua = req.flags & wire::CMD_FLAG_FUA != 0;
        let len = u64::from(req.len);
        let mut cache = lock(&self.shared.cache);
        let in_range = cache.in_range(req.offset, len);
        let (result, data) = match req.kind {
            wire::CMD_READ => {
                if !in_range || req.len > MAX_PAYLOAD {
                    return Err(wire::EINVAL);
                }
                let mut data = vec![0u8; req.len as usize];
                (cache.read(req.offset, &mut data), data)
            }
            wire::CMD_WRITE | wire::CMD_WRITE_ZEROES => {
                if !in_range {
                    return Err(wire::ENOSPC);
                }
                (cache.write(req.offset, len, payload, fua), Vec::new())
            }
            wire::CMD_FLUSH => (cache.flush(), Vec::new()),
            _ => return Err(wire::EINVAL),
        };
        let (dirty, destaged) = (cache.dirty.len() as u64, cache.destaged);
        drop(cache);
        let mut stats = lock(&self.shared.stats);
        stats.dirty_blocks = dirty;
        stats.destaged_blocks = destaged;
        if let Err(e) = result {
            stats.last_error = Some(format!(
                "request {} at {} (+{}): {e}",
                req.kind, req.offset, req.len
            ));
            return Err(match e.kind() {
                io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge => wire::ENOSPC,
                _ => wire::EIO,
            });
        }
        match req.kind {
            wire::CMD_READ => stats.bytes_read += len,
            wire::CMD_FLUSH => stats.flushes += 1,
            _ => {
                stats.bytes_written += len;
                if fua {
                    stats.fua_writes += 1;
                }
            }
        }
        Ok(data)
    }
}

/// The one export, by name or as the default export `""`.
fn known_export(name: &[u8]) -> bool {
    name.is_empty() || name == EXPORT_NAME.as_bytes()
}

/// The data of `NBD_OPT_INFO` / `NBD_OPT_GO`: the export name and the
/// information types asked for; `None` when the lengths do not add up.
fn parse_info_request(data: &[u8]) -> Option<(&[u8], Vec<u16>)> {
    let name_len = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let name = data.get(4..4usize.checked_add(name_len)?)?;
    let rest = &data[4 + name_len..];
    let count = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?) as usize;
    let list = &rest[2..];
    if list.len() != count * 2 {
        return None;
    }
    let requests = list
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    Some((name, requests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::AtomicU32;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "kring-nbd-{}-{name}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("creating a temporary directory");
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// An image of `size` bytes where byte `i` is `fill(i)`.
    fn image(dir: &TempDir, size: usize, fill: impl Fn(usize) -> u8) -> PathBuf {
        let path = dir.0.join("disk.img");
        let bytes: Vec<u8> = (0..size).map(fill).collect();
        std::fs::write(&path, bytes).expect("writing the image");
        path
    }

    fn file(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("reading the image")
    }

    fn read(cache: &Cache, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        cache.read(offset, &mut buf).expect("read");
        buf
    }

    fn block(idx: usize) -> std::ops::Range<usize> {
        idx * BLOCK_SIZE..(idx + 1) * BLOCK_SIZE
    }

    #[test]
    fn reads_see_cached_writes_and_the_file_stays_old() {
        let dir = TempDir::new("reads");
        let img = image(&dir, 16 * BLOCK_SIZE, |_| 0x11);
        let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
        cache
            .write(BS, BS, Some(&[0x22; BLOCK_SIZE]), false)
            .expect("write");
        let seen = read(&cache, 0, 3 * BLOCK_SIZE);
        assert!(seen[block(0)].iter().all(|b| *b == 0x11));
        assert!(seen[block(1)].iter().all(|b| *b == 0x22));
        assert!(seen[block(2)].iter().all(|b| *b == 0x11));
        // A read that starts and ends inside blocks.
        assert_eq!(read(&cache, BS - 2, 4), vec![0x11, 0x11, 0x22, 0x22]);
        assert!(
            file(&img).iter().all(|b| *b == 0x11),
            "nothing reached the file"
        );
        assert_eq!(cache.dirty.len(), 1);
    }

    #[test]
    fn flush_persists_and_a_cut_after_it_loses_nothing() {
        let dir = TempDir::new("flush");
        let img = image(&dir, 16 * BLOCK_SIZE, |_| 0);
        let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
        cache
            .write(0, 2 * BS, Some(&[0x33; 2 * BLOCK_SIZE]), false)
            .expect("write");
        cache.flush().expect("flush");
        assert!(cache.dirty.is_empty() && cache.order.is_empty());
        let f = file(&img);
        assert!(f[..2 * BLOCK_SIZE].iter().all(|b| *b == 0x33));
        assert!(f[2 * BLOCK_SIZE..].iter().all(|b| *b == 0));
        let report = cache.cut(0.0, 1).expect("cut");
        assert_eq!(report, CutReport::default());
        assert_eq!(file(&img), f);
    }

    #[test]
    fn a_cut_with_p0_drops_everything_unflushed() {
        let dir = TempDir::new("cut0");
        let img = image(&dir, 16 * BLOCK_SIZE, |_| 0x01);
        let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
        cache
            .write(0, BS, Some(&[0xaa; BLOCK_SIZE]), false)
            .expect("write");
        cache.flush().expect("flush");
        cache
            .write(2 * BS, BS, Some(&[0xbb; BLOCK_SIZE]), false)
            .expect("write");
        cache
            .write(5 * BS + 7, 9, Some(&[0xcc; 9]), false)
            .expect("write");
        cache.write(0, 10, None, false).expect("write zeroes");
        let report = cache.cut(0.0, 42).expect("cut");
        assert_eq!(
            report,
            CutReport {
                kept: 0,
                dropped: 3
            }
        );
        let f = file(&img);
        assert!(f[block(0)].iter().all(|b| *b == 0xaa), "the flushed block");
        assert!(
            f[BLOCK_SIZE..].iter().all(|b| *b == 0x01),
            "the rest as before"
        );
        assert!(cache.dirty.is_empty() && cache.order.is_empty());
        assert_eq!(
            read(&cache, 0, 16 * BLOCK_SIZE),
            f,
            "after a cut, the file is the disk"
        );
    }

    #[test]
    fn a_cut_with_p1_keeps_everything() {
        let dir = TempDir::new("cut1");
        let img = image(&dir, 16 * BLOCK_SIZE, |_| 0);
        let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
        for i in [1u8, 3, 4, 9] {
            cache
                .write(u64::from(i) * BS, BS, Some(&[i; BLOCK_SIZE]), false)
                .expect("write");
        }
        let view = read(&cache, 0, 16 * BLOCK_SIZE);
        let report = cache.cut(1.0, 42).expect("cut");
        assert_eq!(
            report,
            CutReport {
                kept: 4,
                dropped: 0
            }
        );
        assert_eq!(file(&img), view);
    }

    #[test]
    fn a_partial_cut_keeps_whole_blocks_and_repeats_with_its_seed() {
        let run = |seed: u64| -> (CutReport, Vec<u8>) {
            let dir = TempDir::new("cut-half");
            let img = image(&dir, 256 * BLOCK_SIZE, |_| 0);
            let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
            for i in 0..200u64 {
                let data = [(i % 250 + 1) as u8; BLOCK_SIZE];
                cache.write(i * BS, BS, Some(&data), false).expect("write");
            }
            let report = cache.cut(0.5, seed).expect("cut");
            (report, file(&img))
        };
        let (report, f) = run(7);
        assert_eq!(report.kept + report.dropped, 200);
        assert!((60..=140).contains(&report.kept), "{report:?}");
        let mut kept = 0;
        for i in 0..256 {
            let b = &f[block(i)];
            let new = (i % 250 + 1) as u8;
            if i < 200 && b.iter().all(|x| *x == new) {
                kept += 1;
            } else {
                assert!(b.iter().all(|x| *x == 0), "block {i} is torn or wrong");
            }
        }
        assert_eq!(kept, report.kept);
        assert_eq!(run(7), (report, f), "the same seed, the same cut");
        assert_ne!(run(8).1, run(7).1, "another seed, another cut");
    }

    #[test]
    fn fua_writes_bypass_the_cache() {
        let dir = TempDir::new("fua");
        let img = image(&dir, 16 * BLOCK_SIZE, |_| 0);
        let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
        cache
            .write(0, BS, Some(&[0x44; BLOCK_SIZE]), true)
            .expect("fua write");
        assert!(file(&img)[block(0)].iter().all(|b| *b == 0x44));
        assert!(cache.dirty.is_empty());

        // A FUA write into a cached block: the block goes to the file whole,
        // with the new bytes, and leaves the cache.
        cache
            .write(BS, BS, Some(&[0x22; BLOCK_SIZE]), false)
            .expect("write");
        cache
            .write(3 * BS, BS, Some(&[0x77; BLOCK_SIZE]), false)
            .expect("write");
        cache
            .write(BS + 10, 100, Some(&[0x33; 100]), true)
            .expect("fua write");
        let mut expected = vec![0x22u8; BLOCK_SIZE];
        expected[10..110].fill(0x33);
        assert_eq!(&file(&img)[block(1)], &expected[..]);
        assert_eq!(cache.dirty.len(), 1, "block 3 is still cached");
        assert_eq!(cache.order.len(), 1);

        // FUA zeroes, over a cached block and past it.
        cache.write(3 * BS, 2 * BS, None, true).expect("fua zeroes");
        assert!(cache.dirty.is_empty());
        cache.cut(0.0, 1).expect("cut");
        let f = file(&img);
        assert!(f[block(0)].iter().all(|b| *b == 0x44));
        assert_eq!(&f[block(1)], &expected[..]);
        assert!(f[2 * BLOCK_SIZE..].iter().all(|b| *b == 0));
    }

    #[test]
    fn partial_block_writes_merge_with_the_file_and_the_cache() {
        let dir = TempDir::new("merge");
        let pattern = |i: usize| (i % 251) as u8;
        let img = image(&dir, 4 * BLOCK_SIZE, pattern);
        let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
        let mut model: Vec<u8> = (0..4 * BLOCK_SIZE).map(pattern).collect();
        // Across the border of blocks 0 and 1, neither cached.
        cache
            .write(4050, 100, Some(&[0xab; 100]), false)
            .expect("write");
        model[4050..4150].fill(0xab);
        // Overlapping it, into the cached copy.
        cache
            .write(4040, 20, Some(&[0xcd; 20]), false)
            .expect("write");
        model[4040..4060].fill(0xcd);
        cache.write(4140, 30, None, false).expect("zeroes");
        model[4140..4170].fill(0);
        assert_eq!(read(&cache, 0, model.len()), model);
        cache.flush().expect("flush");
        assert_eq!(file(&img), model);
    }

    #[test]
    fn the_limit_writes_back_the_longest_dirty_blocks() {
        let dir = TempDir::new("limit");
        let img = image(&dir, 16 * BLOCK_SIZE, |_| 0);
        let mut cache = Cache::open(&img, 2 * BS).expect("open");
        for i in 0..3u8 {
            cache
                .write(u64::from(i) * BS, BS, Some(&[i + 1; BLOCK_SIZE]), false)
                .expect("write");
        }
        assert_eq!(cache.destaged, 1);
        assert_eq!(cache.dirty.len(), 2);
        let f = file(&img);
        assert!(
            f[block(0)].iter().all(|b| *b == 1),
            "block 0 was written back"
        );
        assert!(f[BLOCK_SIZE..].iter().all(|b| *b == 0));
        // Writing block 1 again does not make it younger: it goes next.
        cache.write(BS, 1, Some(&[9]), false).expect("write");
        cache
            .write(3 * BS, BS, Some(&[4; BLOCK_SIZE]), false)
            .expect("write");
        assert_eq!(cache.destaged, 2);
        let f = file(&img);
        assert_eq!(f[BLOCK_SIZE], 9);
        assert!(f[BLOCK_SIZE + 1..2 * BLOCK_SIZE].iter().all(|b| *b == 2));
        let report = cache.cut(0.0, 1).expect("cut");
        assert_eq!(
            report,
            CutReport {
                kept: 0,
                dropped: 2
            }
        );
        assert!(file(&img)[2 * BLOCK_SIZE..].iter().all(|b| *b == 0));

        // A huge WRITE_ZEROES stays within the limit.
        let img2 = dir.0.join("ones.img");
        std::fs::write(&img2, vec![1u8; 64 * BLOCK_SIZE]).expect("write image");
        let mut cache = Cache::open(&img2, 2 * BS).expect("open");
        cache.write(0, 64 * BS, None, false).expect("zeroes");
        assert_eq!(cache.dirty.len(), 2);
        assert_eq!(cache.destaged, 62);
        cache.flush().expect("flush");
        assert!(file(&img2).iter().all(|b| *b == 0));

        // No cache at all: every write reaches the file.
        let mut cache = Cache::open(&img2, 0).expect("open");
        cache.write(5, 3, Some(&[7, 7, 7]), false).expect("write");
        assert!(cache.dirty.is_empty());
        assert_eq!(&file(&img2)[4..9], &[0, 7, 7, 7, 0]);
    }

    #[test]
    fn an_odd_sized_disk_keeps_its_size() {
        let dir = TempDir::new("odd");
        let img = image(&dir, 10_000, |_| 5);
        let mut cache = Cache::open(&img, DEFAULT_CACHE_LIMIT).expect("open");
        assert!(cache.in_range(9_000, 1_000) && !cache.in_range(9_000, 1_001));
        assert!(!cache.in_range(u64::MAX, 2));
        cache
            .write(9_000, 1_000, Some(&[6; 1_000]), false)
            .expect("write");
        assert_eq!(read(&cache, 8_999, 1_001)[..2], [5, 6]);
        cache.flush().expect("flush");
        let f = file(&img);
        assert_eq!(f.len(), 10_000);
        assert!(f[9_000..].iter().all(|b| *b == 6) && f[..9_000].iter().all(|b| *b == 5));
    }

    /// Random writes (cached, FUA, zeroes, unaligned) against a model of
    /// what the guest must read back.
    #[test]
    fn random_operations_read_back_as_written() {
        let dir = TempDir::new("random");
        let size = 64 * BLOCK_SIZE;
        let img = image(&dir, size, |i| (i % 13) as u8);
        let mut model = file(&img);
        let mut cache = Cache::open(&img, 8 * BS).expect("open");
        let mut rng = SplitMix64(99);
        for step in 0..2_000u64 {
            let offset = rng.next_u64() % size as u64;
            let len = (rng.next_u64() % (3 * BS)).min(size as u64 - offset);
            let (o, l) = (offset as usize, len as usize);
            match rng.next_u64() % 10 {
                0 => cache.flush().expect("flush"),
                1 => {
                    cache
                        .write(offset, len, None, step % 3 == 0)
                        .expect("zeroes");
                    model[o..o + l].fill(0);
                }
                2..=5 => {
                    let data: Vec<u8> = (0..l).map(|_| rng.next_u64() as u8).collect();
                    cache
                        .write(offset, len, Some(&data), step % 4 == 0)
                        .expect("write");
                    model[o..o + l].copy_from_slice(&data);
                }
                _ => assert_eq!(read(&cache, offset, l), model[o..o + l], "step {step}"),
            }
            assert!(cache.dirty.len() <= 8 && cache.dirty.len() == cache.order.len());
        }
        assert_eq!(read(&cache, 0, size), model);
        cache.cut(1.0, 3).expect("cut");
        assert_eq!(file(&img), model);
    }

    /// The client side of the protocol, as far as the tests need it.
    struct Client {
        s: UnixStream,
        next_cookie: u64,
    }

    impl Client {
        /// Connects and reads the server's greeting; sends the client flags.
        fn hello(path: &Path, client_flags: u32) -> Self {
            let mut s = UnixStream::connect(path).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            let mut hello = [0u8; 18];
            s.read_exact(&mut hello).expect("greeting");
            assert_eq!(&hello[..8], b"NBDMAGIC");
            assert_eq!(&hello[8..16], b"IHAVEOPT");
            assert_eq!(u16::from_be_bytes([hello[16], hello[17]]), 3);
            s.write_all(&client_flags.to_be_bytes()).expect("flags");
            Self { s, next_cookie: 1 }
        }

        /// Handshake with `NBD_OPT_GO`: the size and transmission flags.
        fn go(path: &Path) -> (Self, u64, u16) {
            let mut c = Self::hello(path, 3);
            let mut go = 4u32.to_be_bytes().to_vec();
            go.extend_from_slice(b"disk");
            go.extend_from_slice(&1u16.to_be_bytes());
            go.extend_from_slice(&wire::INFO_BLOCK_SIZE.to_be_bytes());
            c.option(wire::OPT_GO, &go);
            let (mut size, mut flags, mut sizes) = (None, None, None);
            loop {
                let (opt, kind, data) = c.option_reply();
                assert_eq!(opt, wire::OPT_GO);
                match kind {
                    wire::REP_ACK => break,
                    wire::REP_INFO if data[..2] == [0, 0] => {
                        assert_eq!(data.len(), 12);
                        size = Some(u64::from_be_bytes(data[2..10].try_into().expect("8")));
                        flags = Some(u16::from_be_bytes([data[10], data[11]]));
                    }
                    wire::REP_INFO if data[..2] == [0, 3] => sizes = Some(data),
                    other => panic!("unexpected option reply {other:#x}"),
                }
            }
            let sizes = sizes.expect("block sizes");
            assert_eq!(sizes.len(), 14);
            assert_eq!(&sizes[2..6], &1u32.to_be_bytes());
            assert_eq!(&sizes[6..10], &4096u32.to_be_bytes());
            (
                c,
                size.expect("NBD_INFO_EXPORT"),
                flags.expect("NBD_INFO_EXPORT"),
            )
        }

        fn option(&mut self, option: u32, data: &[u8]) {
            let mut m = wire::IHAVEOPT.to_be_bytes().to_vec();
            m.extend_from_slice(&option.to_be_bytes());
            m.extend_from_slice(&(data.len() as u32).to_be_bytes());
            m.extend_from_slice(data);
            self.s.write_all(&m).expect("option");
        }

        fn option_reply(&mut self) -> (u32, u32, Vec<u8>) {
            let mut h = [0u8; 20];
            self.s.read_exact(&mut h).expect("option reply");
            assert_eq!(&h[..8], &wire::OPTION_REPLY_MAGIC.to_be_bytes());
            let word = |i: usize| u32::from_be_bytes(h[i..i + 4].try_into().expect("4"));
            let mut data = vec![0u8; word(16) as usize];
            self.s.read_exact(&mut data).expect("option reply data");
            (word(8), word(12), data)
        }

        fn send(&mut self, flags: u16, kind: u16, offset: u64, len: u32, payload: &[u8]) -> u64 {
            let cookie = self.next_cookie;
            self.next_cookie += 1;
            let mut m = wire::REQUEST_MAGIC.to_be_bytes().to_vec();
            m.extend_from_slice(&flags.to_be_bytes());
            m.extend_from_slice(&kind.to_be_bytes());
            m.extend_from_slice(&cookie.to_be_bytes());
            m.extend_from_slice(&offset.to_be_bytes());
            m.extend_from_slice(&len.to_be_bytes());
            m.extend_from_slice(payload);
            self.s.write_all(&m).expect("request");
            cookie
        }

        /// A request and its simple reply: the error, and the data of a
        /// successful read.
        fn request(
            &mut self,
            flags: u16,
            kind: u16,
            offset: u64,
            len: u32,
            payload: &[u8],
        ) -> (u32, Vec<u8>) {
            let cookie = self.send(flags, kind, offset, len, payload);
            let mut h = [0u8; 16];
            self.s.read_exact(&mut h).expect("reply");
            assert_eq!(&h[..4], &wire::SIMPLE_REPLY_MAGIC.to_be_bytes());
            assert_eq!(&h[8..], &cookie.to_be_bytes());
            let error = u32::from_be_bytes(h[4..8].try_into().expect("4"));
            let mut data = Vec::new();
            if error == 0 && kind == wire::CMD_READ {
                data = vec![0u8; len as usize];
                self.s.read_exact(&mut data).expect("read data");
            }
            (error, data)
        }

        fn read(&mut self, offset: u64, len: u32) -> Vec<u8> {
            let (error, data) = self.request(0, wire::CMD_READ, offset, len, &[]);
            assert_eq!(error, 0, "read {offset}+{len}");
            data
        }

        /// True when the server closed the connection.
        fn closed(&mut self) -> bool {
            matches!(self.s.read(&mut [0u8; 1]), Ok(0) | Err(_))
        }
    }

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn the_protocol_from_handshake_to_disconnect() {
        let dir = TempDir::new("proto");
        let size = 64 * BLOCK_SIZE;
        let img = image(&dir, size, |_| 0x5a);
        let sock = dir.0.join("nbd.sock");
        let disk = VolatileDisk::serve(&img, &sock, DEFAULT_CACHE_LIMIT).expect("serve");

        // Options before GO: unsupported, listed, unknown export.
        let mut c = Client::hello(&sock, 3);
        c.option(8, &[]); // NBD_OPT_STRUCTURED_REPLY
        assert_eq!(c.option_reply(), (8, wire::REP_ERR_UNSUP, vec![]));
        c.option(wire::OPT_LIST, &[]);
        let (_, kind, data) = c.option_reply();
        assert_eq!(
            (kind, &data[..]),
            (wire::REP_SERVER, &b"\0\0\0\x04disk"[..])
        );
        assert_eq!(c.option_reply().1, wire::REP_ACK);
        let mut info = 4u32.to_be_bytes().to_vec();
        info.extend_from_slice(b"nope\0\0");
        c.option(wire::OPT_INFO, &info);
        assert_eq!(c.option_reply().1, wire::REP_ERR_UNKNOWN);
        c.option(wire::OPT_INFO, &[0, 0, 0, 9, b'x']);
        assert_eq!(c.option_reply().1, wire::REP_ERR_INVALID);
        c.option(wire::OPT_ABORT, &[]);
        assert_eq!(c.option_reply(), (wire::OPT_ABORT, wire::REP_ACK, vec![]));
        assert!(c.closed());

        let (mut c, export_size, flags) = Client::go(&sock);
        assert_eq!(export_size, size as u64);
        assert_eq!(
            flags, 0b100_1101,
            "HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_WRITE_ZEROES"
        );

        let data: Vec<u8> = (0..2 * BLOCK_SIZE).map(|i| (i % 7) as u8).collect();
        let (error, _) = c.request(0, wire::CMD_WRITE, 4096 + 100, data.len() as u32, &data);
        assert_eq!(error, 0);
        assert_eq!(c.read(4096 + 100, data.len() as u32), data);
        assert!(file(&img).iter().all(|b| *b == 0x5a), "not flushed yet");
        assert_eq!(disk.stats().dirty_blocks, 3);

        // Out of range: an error, and the connection goes on.
        let (error, data_back) = c.request(0, wire::CMD_READ, size as u64 - 100, 4096, &[]);
        assert_eq!((error, data_back.len()), (wire::EINVAL, 0));
        let (error, _) = c.request(0, wire::CMD_READ, u64::MAX - 10, 4096, &[]);
        assert_eq!(error, wire::EINVAL);
        let (error, _) = c.request(0, wire::CMD_WRITE, size as u64, 3, &[1, 2, 3]);
        assert_eq!(error, wire::ENOSPC);
        let (error, _) = c.request(0, wire::CMD_WRITE_ZEROES, size as u64 - 1, 2, &[]);
        assert_eq!(error, wire::ENOSPC);
        let (error, _) = c.request(0, 42, 0, 0, &[]);
        assert_eq!(error, wire::EINVAL, "an unknown command");
        let (error, _) = c.request(1 << 4, wire::CMD_WRITE_ZEROES, 0, 1, &[]);
        assert_eq!(
            error,
            wire::EINVAL,
            "NBD_CMD_FLAG_FAST_ZERO was not offered"
        );
        assert_eq!(c.read(4096 + 100, 10), data[..10]);

        let (error, _) = c.request(0, wire::CMD_FLUSH, 0, 0, &[]);
        assert_eq!(error, 0);
        let f = file(&img);
        assert_eq!(&f[4196..4196 + data.len()], &data[..]);
        let (error, _) = c.request(
            wire::CMD_FLAG_FUA | wire::CMD_FLAG_NO_HOLE,
            wire::CMD_WRITE_ZEROES,
            0,
            4096,
            &[],
        );
        assert_eq!(error, 0);
        assert!(
            file(&img)[..4096].iter().all(|b| *b == 0),
            "FUA reached the file"
        );
        c.send(0, wire::CMD_DISC, 0, 0, &[]);
        assert!(c.closed());

        let stats = disk.stats();
        assert_eq!(
            stats,
            DiskStats {
                bytes_written: 8192 + 4096,
                bytes_read: 8192 + 10,
                flushes: 1,
                fua_writes: 1,
                connections: 2,
                error_replies: 6,
                ..DiskStats::default()
            }
        );

        // NBD_OPT_EXPORT_NAME, with the 124 zeroes.
        let mut c = Client::hello(&sock, 1);
        c.option(wire::OPT_EXPORT_NAME, b"");
        let mut answer = [0u8; 134];
        c.s.read_exact(&mut answer).expect("export");
        assert_eq!(&answer[..8], &(size as u64).to_be_bytes());
        assert_eq!(&answer[8..10], &0b100_1101u16.to_be_bytes());
        assert!(answer[10..].iter().all(|b| *b == 0));
        assert_eq!(c.read(4096 + 100, 7), data[..7]);
    }

    #[test]
    fn a_cut_disconnects_the_client_and_the_next_one_sees_the_file() {
        let dir = TempDir::new("cut-client");
        let img = image(&dir, 64 * BLOCK_SIZE, |_| 0x5a);
        let sock = dir.0.join("nbd.sock");
        let disk = VolatileDisk::serve(&img, &sock, DEFAULT_CACHE_LIMIT).expect("serve");

        // A cut with no client at all.
        assert_eq!(disk.cut(0.5, 1).expect("cut"), CutReport::default());

        let (mut c, _, _) = Client::go(&sock);
        let (error, _) = c.request(0, wire::CMD_WRITE, 0, 4096, &[1; 4096]);
        assert_eq!(error, 0);
        let (error, _) = c.request(0, wire::CMD_FLUSH, 0, 0, &[]);
        assert_eq!(error, 0);
        let (error, _) = c.request(0, wire::CMD_WRITE, 8192, 8192, &[2; 8192]);
        assert_eq!(error, 0);
        // A client that is still there (QEMU not killed yet): the cut ends it.
        let report = disk.cut(0.0, 1).expect("cut");
        assert_eq!(
            report,
            CutReport {
                kept: 0,
                dropped: 2
            }
        );
        assert!(c.closed());

        // Killed in the middle of a write: the header and half the data.
        let (mut c, _, _) = Client::go(&sock);
        c.send(0, wire::CMD_WRITE, 0, 4096, &[3; 2048]);
        drop(c);
        wait_for("the connection to end", || !disk.stats().connected);
        assert_eq!(disk.stats().connections, 2);
        assert_eq!(disk.cut(0.0, 2).expect("cut"), CutReport::default());

        let (mut c, _, _) = Client::go(&sock);
        assert_eq!(c.read(0, 4096), vec![1; 4096]);
        assert_eq!(c.read(8192, 8192), vec![0x5a; 8192]);
        assert_eq!(disk.stats().last_error, None);

        // A client that breaks the protocol is noted and dropped; the next
        // one is served.
        c.s.write_all(&[0u8; 28]).expect("garbage");
        assert!(c.closed());
        wait_for("the error to be noted", || {
            disk.stats().last_error.is_some()
        });
        assert!(
            disk.stats()
                .last_error
                .is_some_and(|e| e.contains("bad request magic")),
            "{:?}",
            disk.stats()
        );
        let (mut c, _, _) = Client::go(&sock);
        assert_eq!(c.read(0, 4), vec![1; 4]);
        drop(c);

        assert!(disk.cut(1.5, 0).is_err(), "not a probability");
        drop(disk);
        assert!(!sock.exists(), "the socket is removed");
    }

    #[test]
    fn dropping_the_disk_writes_the_cache_back() {
        let dir = TempDir::new("drop");
        let img = image(&dir, 8 * BLOCK_SIZE, |_| 0);
        let sock = dir.0.join("nbd.sock");
        let disk = VolatileDisk::serve(&img, &sock, DEFAULT_CACHE_LIMIT).expect("serve");
        let (mut c, _, _) = Client::go(&sock);
        let (error, _) = c.request(0, wire::CMD_WRITE, 0, 3, &[9, 9, 9]);
        assert_eq!(error, 0);
        assert_eq!(file(&img)[..3], [0, 0, 0]);
        drop(disk); // with the client still connected
        assert_eq!(file(&img)[..4], [9, 9, 9, 0]);
        assert!(c.closed());
    }

    /// `qemu-system-aarch64` with the disk and nothing else, its CPU never
    /// started (`-S`): the NBD client under test is QEMU's own, driven with
    /// `qemu-io` through the monitor. Killed with SIGKILL when dropped.
    struct Qemu {
        child: Child,
        qmp: crate::qemu::Qmp,
        log: PathBuf,
    }

    impl Qemu {
        fn start(dir: &TempDir, disk: &VolatileDisk) -> anyhow::Result<Self> {
            let qmp = dir.0.join("qmp.sock");
            let _ = std::fs::remove_file(&qmp);
            let log = dir.0.join("qemu.log");
            let out = std::fs::File::create(&log)?;
            let mut child = Command::new("qemu-system-aarch64")
                .args(["-M", "virt", "-nodefaults", "-display", "none", "-S"])
                .args(disk.qemu_args("disk0", "vblk"))
                .arg("-qmp")
                .arg(format!("unix:{},server=on,wait=off", qmp.display()))
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()?;
            match crate::qemu::Qmp::connect(&qmp, Duration::from_secs(30)) {
                Ok(qmp) => Ok(Self { child, qmp, log }),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let said = std::fs::read_to_string(&log).unwrap_or_default();
                    Err(e.context(said))
                }
            }
        }

        fn hmp(&mut self, line: &str) -> anyhow::Result<String> {
            let out = self.qmp.execute(
                "human-monitor-command",
                serde_json::json!({ "command-line": line }),
            )?;
            Ok(out.as_str().unwrap_or_default().to_string())
        }

        /// A `qemu-io` command on the guest's virtio disk (its block backend
        /// is the virtio-blk-pci's inner device); what it printed. qemu-io
        /// prints on QEMU's stdout, not into the monitor.
        fn qemu_io(&mut self, command: &str) -> anyhow::Result<String> {
            let before = std::fs::metadata(&self.log)?.len() as usize;
            let line = format!("qemu-io -d vblk/virtio-backend \"{command}\"");
            let monitor = self.hmp(&line)?;
            let log = std::fs::read(&self.log)?;
            let printed =
                String::from_utf8_lossy(log.get(before..).unwrap_or_default()).into_owned();
            ensure!(
                monitor.trim().is_empty()
                    && !printed.contains("failed")
                    && !printed.contains("rror"),
                "{line}: {monitor}{printed}"
            );
            let done = match command.split(' ').next() {
                Some("read") => Some("read "),
                Some("write") => Some("wrote "),
                _ => None,
            };
            if let Some(done) = done {
                ensure!(
                    printed.contains(done) && printed.contains(" bytes at offset "),
                    "{line}: {printed}"
                );
            }
            Ok(printed)
        }
    }

    impl Drop for Qemu {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[test]
    fn qemu_loses_what_it_did_not_flush() -> anyhow::Result<()> {
        if let Err(e) = Command::new("qemu-system-aarch64")
            .arg("--version")
            .output()
        {
            eprintln!("skipped: qemu-system-aarch64 cannot run here ({e})");
            return Ok(());
        }
        let dir = TempDir::new("qemu");
        let img = image(&dir, 16 << 20, |_| 0);
        let sock = dir.0.join("nbd.sock");
        let disk = VolatileDisk::serve(&img, &sock, DEFAULT_CACHE_LIMIT)?;

        let mut qemu = Qemu::start(&dir, &disk)?;
        let block = qemu.hmp("info block -v")?;
        ensure!(
            block.contains("Cache mode:       writeback"),
            "the guest's disk has no write cache: {block}"
        );
        qemu.qemu_io("write -P 0x55 0 4096")?;
        qemu.qemu_io("flush")?;
        qemu.qemu_io("write -P 0xaa 65536 4096")?;
        qemu.qemu_io("write -z 131072 8192")?;
        qemu.qemu_io("read -P 0xaa 65536 4096")?;
        ensure!(
            qemu.qemu_io("read -P 0xab 65536 4096").is_err(),
            "a wrong pattern must be noticed"
        );
        let stats = disk.stats();
        ensure!(stats.connections == 1 && stats.flushes == 1, "{stats:?}");
        ensure!(
            stats.bytes_written == 16384 && stats.dirty_blocks == 3 && stats.fua_writes == 0,
            "{stats:?}"
        );
        ensure!(file(&img)[..4096].iter().all(|b| *b == 0x55), "flushed");
        drop(qemu); // SIGKILL

        let report = disk.cut(0.0, 1)?;
        ensure!(
            report
                == CutReport {
                    kept: 0,
                    dropped: 3
                },
            "{report:?}"
        );
        let f = file(&img);
        ensure!(
            f[..4096].iter().all(|b| *b == 0x55),
            "the flushed write survived"
        );
        ensure!(
            f[4096..].iter().all(|b| *b == 0),
            "the unflushed writes are gone"
        );

        // The next QEMU sees the same; its FUA write survives a cut too.
        let mut qemu = Qemu::start(&dir, &disk)?;
        qemu.qemu_io("read -P 0x55 0 4096")?;
        qemu.qemu_io("read -P 0 65536 4096")?;
        qemu.qemu_io("write -f -P 0x66 8192 4096")?;
        drop(qemu);
        disk.cut(0.0, 2)?;
        ensure!(file(&img)[8192..12288].iter().all(|b| *b == 0x66), "FUA");
        let stats = disk.stats();
        ensure!(
            stats.connections == 2 && stats.fua_writes == 1 && stats.last_error.is_none(),
            "{stats:?}"
        );
        Ok(())
    }
}
