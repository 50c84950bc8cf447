//! The index snapshot: the bulk [`Segment`] saved to a file in the data directory after every
//! full build, so a restart loads it in a fraction of a second instead of reading and sorting
//! every item again.
//!
//! A snapshot is only a shortcut, never a source of truth. It carries a [`Fingerprint`] of the
//! database rows it was built from: every row's id and write time (`synced_at`). At start the
//! rows written at or after the snapshot's latest write are read again (the catch-up), and the
//! database sums a hash of id and write time over the rows written before it; when the sums are
//! the snapshot's, minus the rows read again, nothing else changed or went away. Anything else —
//! another format, another `fold`, a truncated or damaged file, a removed or late-written row —
//! and the index is built from the database as before.
//!
//! File layout (little-endian): a header (magic, [`FORMAT`], the `fold` probe), the payload
//! (per kind the write times, then per kind the entries and the sorted arrays, then the firm domains), and a
//! trailer (CRC-32 of the payload). Written to a temporary file and renamed, so readers see a
//! whole file or none.

use std::{
    fs::File,
    io::{self, BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use super::{
    ItemKind,
    fold::fold,
    index::{Entry, FIRM_NAME, KindSegment, Segment},
};
use crate::store::item_fingerprint;

/// The snapshot's file name in the data directory.
pub const FILE_NAME: &str = "item-index.snapshot";

const MAGIC: &[u8; 8] = b"CRMBIDX\n";
/// Bump when the layout or the meaning of a saved field changes.
pub const FORMAT: u32 = 2;
/// Text whose folding is saved in the header: a `fold` that changed (new Unicode tables, new
/// rules) gives another result, and a snapshot of names folded the old way is not used.
const FOLD_PROBE: &str = "Vítkovice ŽLUŤOUČKÝ kůň Straße Œuvre İstanbul ﬁ 1½";
/// Bytes of one saved [`Entry`].
const ENTRY_BYTES: usize = 37;
/// Items encoded per buffered write.
const CHUNK: usize = 8192;

/// Why a snapshot was not used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// There is no snapshot file.
    #[error("no index snapshot yet")]
    Missing,
    /// Another format or another folding.
    #[error("the index snapshot was written by another version ({0})")]
    Version(String),
    /// Truncated, damaged or inconsistent.
    #[error("the index snapshot is damaged: {0}")]
    Corrupt(String),
    /// The file could not be read.
    #[error("the index snapshot cannot be read: {0}")]
    Io(#[from] io::Error),
}

fn corrupt(what: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(what.into())
}

/// What a snapshot claims about the database rows it was built from; see the module text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// Per kind (by code): every row's id and `synced_at`, sorted by id.
    pub written: [Vec<(i64, i64)>; 4],
}

impl Fingerprint {
    /// The latest `synced_at` among the rows (`None`: no rows).
    pub fn watermark(&self) -> Option<i64> {
        self.written
            .iter()
            .flat_map(|rows| rows.iter().map(|(_, at)| *at))
            .max()
    }

    /// When the row `kind`/`id` was written, if the snapshot has it.
    pub fn written_at(&self, kind: ItemKind, id: i64) -> Option<i64> {
        let rows = &self.written[kind.code() as usize];
        rows.binary_search_by_key(&id, |(id, _)| *id)
            .ok()
            .map(|i| rows[i].1)
    }

    /// The rows written exactly at `watermark`.
    pub fn written_exactly_at(&self, watermark: i64) -> impl Iterator<Item = (ItemKind, i64)> + '_ {
        ItemKind::ALL.into_iter().flat_map(move |kind| {
            self.written[kind.code() as usize]
                .iter()
                .filter(move |(_, at)| *at == watermark)
                .map(move |(id, _)| (kind, *id))
        })
    }

    /// Whether the database's sums (`ItemStore::item_fingerprints(watermark)`) are this
    /// snapshot's rows written before `watermark`, once the `rewritten` ones (read again from
    /// the database: written at or after it) are taken out.
    pub fn matches(
        &self,
        watermark: i64,
        stored: &[(ItemKind, i64, i64)],
        rewritten: impl IntoIterator<Item = (ItemKind, i64)>,
    ) -> bool {
        let mut expected = [(0i64, 0i64); 4];
        for (total, rows) in expected.iter_mut().zip(&self.written) {
            for (id, at) in rows.iter().filter(|(_, at)| *at < watermark) {
                total.0 += 1;
                total.1 += item_fingerprint(*id, *at);
            }
        }
        for (kind, id) in rewritten {
            if let Some(at) = self.written_at(kind, id).filter(|at| *at < watermark) {
                let total = &mut expected[kind.code() as usize];
                total.0 -= 1;
                total.1 -= item_fingerprint(id, at);
            }
        }
        let mut found = [(0, 0); 4];
        for (kind, count, sum) in stored {
            found[kind.code() as usize] = (*count, *sum);
        }
        found == expected
    }
}

/// Collects a [`Fingerprint`] over the rows of a build.
#[derive(Debug, Default)]
pub struct FingerprintBuilder {
    written: [Vec<(i64, i64)>; 4],
}

impl FingerprintBuilder {
    /// Makes room for `rows` rows of `kind` at once: growing by doubling leaves the freed
    /// smaller buffers in the heap, which shows in the server's resident memory after a build.
    pub fn reserve(&mut self, kind: ItemKind, rows: usize) {
        self.written[kind.code() as usize].reserve_exact(rows);
    }

    /// Adds one row.
    pub fn push(&mut self, kind: ItemKind, id: i64, synced_at: i64) {
        self.written[kind.code() as usize].push((id, synced_at));
    }

    /// The fingerprint, or `None` for no rows at all.
    pub fn finish(mut self) -> Option<Fingerprint> {
        if self.written.iter().all(Vec::is_empty) {
            return None;
        }
        for rows in &mut self.written {
            rows.sort_unstable();
            rows.dedup_by_key(|(id, _)| *id);
            rows.shrink_to_fit();
        }
        Some(Fingerprint {
            written: self.written,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// The payload writer: counts and checksums what passes through.
struct Out<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
    buf: Vec<u8>,
}

impl<W: Write> Out<W> {
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.inner.write_all(bytes)
    }

    fn u64(&mut self, v: u64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn text(&mut self, text: &str) -> io::Result<()> {
        self.u64(text.len() as u64)?;
        self.bytes(text.as_bytes())
    }

    /// The length, then every item encoded by `encode`, in chunks.
    fn array<T>(&mut self, items: &[T], encode: impl Fn(&T, &mut Vec<u8>)) -> io::Result<()> {
        self.u64(items.len() as u64)?;
        let mut buf = std::mem::take(&mut self.buf);
        for chunk in items.chunks(CHUNK) {
            buf.clear();
            for item in chunk {
                encode(item, &mut buf);
            }
            self.bytes(&buf)?;
        }
        self.buf = buf;
        Ok(())
    }
}

fn encode_entry(e: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.id.to_le_bytes());
    out.extend_from_slice(&e.company_id.to_le_bytes());
    out.extend_from_slice(&e.text_off.to_le_bytes());
    out.extend_from_slice(&e.fold_off.to_le_bytes());
    out.extend_from_slice(&e.name_len.to_le_bytes());
    out.extend_from_slice(&e.subtitle_len.to_le_bytes());
    out.extend_from_slice(&e.emails_len.to_le_bytes());
    out.extend_from_slice(&e.fold_len.to_le_bytes());
    out.push(u8::from(e.open));
    out.extend_from_slice(&e.level.to_le_bytes());
}

fn write_payload<W: Write>(
    out: &mut Out<W>,
    segment: &Segment,
    fingerprint: &Fingerprint,
) -> io::Result<()> {
    for rows in &fingerprint.written {
        out.array(rows, |(id, at), b| {
            b.extend_from_slice(&id.to_le_bytes());
            b.extend_from_slice(&at.to_le_bytes());
        })?;
    }
    for kind in &segment.kinds {
        out.array(&kind.entries, encode_entry)?;
        out.text(&kind.text)?;
        out.text(&kind.folded)?;
        out.array(&kind.by_name, |i, b| b.extend_from_slice(&i.to_le_bytes()))?;
        out.array(&kind.words, |(i, off), b| {
            b.extend_from_slice(&i.to_le_bytes());
            b.extend_from_slice(&off.to_le_bytes());
        })?;
        out.array(&kind.by_company, |i, b| {
            b.extend_from_slice(&i.to_le_bytes())
        })?;
        out.array(&kind.emails, |(h, i), b| {
            b.extend_from_slice(&h.to_le_bytes());
            b.extend_from_slice(&i.to_le_bytes());
        })?;
    }
    out.array(&segment.domains, |(h, c), b| {
        b.extend_from_slice(&h.to_le_bytes());
        b.extend_from_slice(&c.to_le_bytes());
    })
}

fn header() -> Vec<u8> {
    let probe = fold(FOLD_PROBE);
    let mut h = Vec::with_capacity(8 + 4 + 2 + probe.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT.to_le_bytes());
    h.extend_from_slice(&(probe.len() as u16).to_le_bytes());
    h.extend_from_slice(probe.as_bytes());
    h
}

/// Saves `segment` with the `fingerprint` of the rows it was built from to `path`, atomically
/// (a temporary file beside it, renamed). CPU and disk heavy: run it on a blocking thread.
pub fn save(path: &Path, segment: &Segment, fingerprint: &Fingerprint) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temp = PathBuf::from(format!(
        "{}.{}-{}.tmp",
        path.display(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written =
        write_file(&temp, segment, fingerprint).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn write_file(path: &Path, segment: &Segment, fingerprint: &Fingerprint) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // The names and e-mail addresses of the CRM's records: readable by the server's user only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = BufWriter::with_capacity(1 << 20, options.open(path)?);
    file.write_all(&header())?;
    let mut out = Out {
        inner: file,
        crc: crc32fast::Hasher::new(),
        buf: Vec::with_capacity(CHUNK * ENTRY_BYTES),
    };
    write_payload(&mut out, segment, fingerprint)?;
    let crc = out.crc.finalize();
    let mut file = out.inner;
    file.write_all(&crc.to_le_bytes())?;
    file.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok(())
}

/// Removes the snapshot at `path`, if any (the database holds no items to save).
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// The payload reader: checksums what it reads and refuses lengths beyond the file's end.
struct In<R: Read> {
    inner: R,
    crc: crc32fast::Hasher,
    /// Payload bytes not read yet.
    left: u64,
}

impl<R: Read> In<R> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, SnapshotError> {
        if n > self.left {
            return Err(corrupt("a length runs past the end of the file"));
        }
        let mut buf = vec![0; n as usize];
        self.inner.read_exact(&mut buf)?;
        self.crc.update(&buf);
        self.left -= n;
        Ok(buf)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let bytes = self.bytes(N as u64)?;
        bytes
            .try_into()
            .map_err(|_| corrupt("short read of a fixed field"))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.fixed()?))
    }

    fn text(&mut self) -> Result<String, SnapshotError> {
        let len = self.u64()?;
        String::from_utf8(self.bytes(len)?).map_err(|_| corrupt("text that is not UTF-8"))
    }

    /// An array written by `Out::array`, each item `size` bytes decoded by `decode`.
    fn array<T>(
        &mut self,
        size: usize,
        decode: impl Fn(&[u8]) -> Result<T, SnapshotError>,
    ) -> Result<Vec<T>, SnapshotError> {
        let n = self.u64()?;
        let bytes = self.bytes(
            n.checked_mul(size as u64)
                .ok_or_else(|| corrupt("an array too long"))?,
        )?;
        bytes.chunks_exact(size).map(decode).collect()
    }
}

fn le<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

fn decode_entry(b: &[u8]) -> Result<Entry, SnapshotError> {
    Ok(Entry {
        id: i64::from_le_bytes(le(b, 0)),
        company_id: i64::from_le_bytes(le(b, 8)),
        text_off: u32::from_le_bytes(le(b, 16)),
        fold_off: u32::from_le_bytes(le(b, 20)),
        name_len: u16::from_le_bytes(le(b, 24)),
        subtitle_len: u16::from_le_bytes(le(b, 26)),
        emails_len: u16::from_le_bytes(le(b, 28)),
        fold_len: u16::from_le_bytes(le(b, 30)),
        open: b[32] != 0,
        level: u32::from_le_bytes(le(b, 33)),
    })
}

fn read_kind<R: Read>(input: &mut In<R>) -> Result<KindSegment, SnapshotError> {
    Ok(KindSegment {
        entries: input.array(ENTRY_BYTES, decode_entry)?,
        text: input.text()?,
        folded: input.text()?,
        by_name: input.array(4, |b| Ok(u32::from_le_bytes(le(b, 0))))?,
        words: input.array(6, |b| {
            Ok((u32::from_le_bytes(le(b, 0)), u16::from_le_bytes(le(b, 4))))
        })?,
        by_company: input.array(4, |b| Ok(u32::from_le_bytes(le(b, 0))))?,
        emails: input.array(8, |b| {
            Ok((u32::from_le_bytes(le(b, 0)), u32::from_le_bytes(le(b, 4))))
        })?,
    })
}

/// Checks every offset and index of `kind`, so a damaged file cannot make a lookup slice out of
/// bounds or inside a character.
fn check_kind(kind: &KindSegment) -> Result<(), SnapshotError> {
    let n = kind.entries.len();
    let on_boundary = |text: &str, at: usize| text.is_char_boundary(at);
    for e in &kind.entries {
        let name = e.text_off as usize;
        let subtitle = name + e.name_len as usize;
        let emails = subtitle + e.stored_subtitle_len();
        let end = emails + e.emails_len as usize;
        let fold_end = e.fold_off as usize + e.fold_len as usize;
        if end > kind.text.len()
            || ![name, subtitle, emails, end]
                .iter()
                .all(|at| on_boundary(&kind.text, *at))
            || fold_end > kind.folded.len()
            || !on_boundary(&kind.folded, e.fold_off as usize)
            || !on_boundary(&kind.folded, fold_end)
        {
            return Err(corrupt("an entry points outside its text"));
        }
    }
    if !kind.entries.windows(2).all(|w| w[0].id < w[1].id) {
        return Err(corrupt("entries out of order"));
    }
    if kind.by_name.len() != n || kind.by_name.iter().any(|i| *i as usize >= n) {
        return Err(corrupt("the name order does not fit the entries"));
    }
    for (i, off) in &kind.words {
        let Some(e) = kind.entries.get(*i as usize) else {
            return Err(corrupt("a word of no entry"));
        };
        if *off > e.fold_len || !on_boundary(&kind.folded, e.fold_off as usize + *off as usize) {
            return Err(corrupt("a word outside its name"));
        }
    }
    if kind.by_company.iter().any(|i| *i as usize >= n)
        || kind.emails.iter().any(|(_, i)| *i as usize >= n)
    {
        return Err(corrupt("a firm or e-mail of no entry"));
    }
    Ok(())
}

/// Reads the snapshot at `path`: its segment and the fingerprint of the rows it was built from.
/// CPU and disk heavy: run it on a blocking thread.
pub fn load(path: &Path) -> Result<(Segment, Fingerprint), SnapshotError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SnapshotError::Missing),
        Err(e) => return Err(e.into()),
    };
    let size = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let expected = header();
    if size < expected.len() as u64 + 4 {
        return Err(corrupt("shorter than its header"));
    }
    let mut found = vec![0; expected.len()];
    reader.read_exact(&mut found)?;
    if found[..8] != MAGIC[..] {
        return Err(corrupt("not an index snapshot"));
    }
    if found != expected {
        let format = u32::from_le_bytes(le(&found, 8));
        return Err(SnapshotError::Version(if format == FORMAT {
            "names folded another way".into()
        } else {
            format!("format {format}, this build reads {FORMAT}")
        }));
    }
    let mut input = In {
        inner: reader,
        crc: crc32fast::Hasher::new(),
        left: size - expected.len() as u64 - 4,
    };
    let mut fingerprint = Fingerprint::default();
    for rows in &mut fingerprint.written {
        *rows = input.array(16, |b| {
            Ok((i64::from_le_bytes(le(b, 0)), i64::from_le_bytes(le(b, 8))))
        })?;
        if !rows.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err(corrupt("write times out of order"));
        }
    }
    let mut segment = Segment::default();
    for kind in &mut segment.kinds {
        *kind = read_kind(&mut input)?;
    }
    segment.domains = input.array(16, |b| {
        Ok((u64::from_le_bytes(le(b, 0)), i64::from_le_bytes(le(b, 8))))
    })?;
    if input.left != 0 {
        return Err(corrupt("bytes after the payload"));
    }
    let crc = input.crc.finalize();
    let mut trailer = [0; 4];
    input.inner.read_exact(&mut trailer)?;
    if u32::from_le_bytes(trailer) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    for kind in &segment.kinds {
        check_kind(kind)?;
    }
    let firms = &segment.kinds[ItemKind::Company.code() as usize];
    for kind in &segment.kinds {
        for e in kind.entries.iter().filter(|e| e.subtitle_len == FIRM_NAME) {
            if firms
                .entries
                .binary_search_by_key(&e.company_id, |f| f.id)
                .is_err()
            {
                return Err(corrupt("a subtitle of a firm that is not there"));
            }
        }
    }
    Ok((segment, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{Item, index::SegmentBuilder};

    fn sample() -> (Segment, Fingerprint) {
        let mut builder = SegmentBuilder::new();
        let mut fingerprint = FingerprintBuilder::default();
        for id in 1..=300 {
            let kind = ItemKind::ALL[id as usize % 4];
            let item = Item {
                kind,
                id,
                name: format!("Vítkovice Ocel {id} s.r.o."),
                subtitle: format!("IČO {id:08}"),
                emails: vec![format!("info{id}@vitkovice.cz")],
                company_id: (kind != ItemKind::Company).then_some(id % 7 + 1),
                open: id % 3 != 0,
                updated_at: None,
                security_level: (id % 5 == 0).then_some(id % 4),
            };
            builder.push(&item);
            fingerprint.push(kind, id, 1_000 + id % 50);
        }
        // A person whose subtitle is its firm's name, stored once (`index::FIRM_NAME`).
        let firm = |kind, id, name: &str, subtitle: &str| Item {
            kind,
            id,
            name: name.into(),
            subtitle: subtitle.into(),
            emails: Vec::new(),
            company_id: (kind == ItemKind::Person).then_some(1_000),
            open: true,
            updated_at: None,
            security_level: None,
        };
        builder.push(&firm(ItemKind::Company, 1_000, "Alfa s.r.o.", "12345678"));
        builder.push(&firm(ItemKind::Person, 1_001, "Jana Nová", "Alfa s.r.o."));
        fingerprint.push(ItemKind::Company, 1_000, 1_010);
        fingerprint.push(ItemKind::Person, 1_001, 1_010);
        (builder.finish(), fingerprint.finish().expect("rows"))
    }

    fn saved() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join(FILE_NAME);
        let (segment, fingerprint) = sample();
        save(&path, &segment, &fingerprint).expect("saved");
        (dir, path)
    }

    #[test]
    fn a_saved_snapshot_loads_back_equal() {
        let (_dir, path) = saved();
        let (segment, fingerprint) = sample();
        let (loaded, loaded_fingerprint) = load(&path).expect("loaded");
        assert_eq!(loaded, segment);
        assert_eq!(loaded_fingerprint, fingerprint);
        assert_eq!(fingerprint.watermark(), Some(1_049));
        assert_eq!(fingerprint.written_exactly_at(1_049).count(), 6);
    }

    #[test]
    fn a_truncated_snapshot_is_refused_at_every_length() {
        let (_dir, path) = saved();
        let bytes = std::fs::read(&path).unwrap();
        for len in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
            std::fs::write(&path, &bytes[..len]).unwrap();
            assert!(
                matches!(
                    load(&path),
                    Err(SnapshotError::Corrupt(_) | SnapshotError::Io(_))
                ),
                "a file cut at {len} of {} bytes",
                bytes.len()
            );
        }
    }

    #[test]
    fn a_changed_byte_is_refused() {
        let (_dir, path) = saved();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(load(&path), Err(SnapshotError::Corrupt(_))));
    }

    #[test]
    fn another_format_is_refused_as_another_version() {
        let (_dir, path) = saved();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&(FORMAT + 1).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(load(&path), Err(SnapshotError::Version(_))));
    }

    #[test]
    fn a_missing_file_is_reported_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(&dir.path().join(FILE_NAME)),
            Err(SnapshotError::Missing)
        ));
    }

    #[test]
    fn the_database_sums_match_once_the_rows_written_since_are_taken_out() {
        let mut builder = FingerprintBuilder::default();
        builder.push(ItemKind::Company, 1, 10);
        builder.push(ItemKind::Company, 2, 30);
        builder.push(ItemKind::Person, 3, 20);
        builder.push(ItemKind::Person, 4, 30);
        let fingerprint = builder.finish().unwrap();
        assert_eq!(fingerprint.watermark(), Some(30));
        assert_eq!(
            fingerprint.written_exactly_at(30).collect::<Vec<_>>(),
            [(ItemKind::Company, 2), (ItemKind::Person, 4)]
        );
        let company = (ItemKind::Company, 1, item_fingerprint(1, 10));
        let person = (ItemKind::Person, 1, item_fingerprint(3, 20));
        // Nothing written since.
        assert!(fingerprint.matches(30, &[company, person], []));
        // Person 3 written again later: it left the database's sums and is read again.
        assert!(fingerprint.matches(30, &[company], [(ItemKind::Person, 3)]));
        // Person 3 removed (or written again but not read): the sums differ.
        assert!(!fingerprint.matches(30, &[company], []));
        // A firm written late with an older time: the sums differ.
        let late = (ItemKind::Company, 2, company.2 + item_fingerprint(9, 25));
        assert!(!fingerprint.matches(30, &[late, person], []));
        assert!(FingerprintBuilder::default().finish().is_none());
    }
}
