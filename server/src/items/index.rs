//! The in-memory search index: an immutable, compact [`Segment`] built in bulk (arenas of text
//! and sorted arrays of 32-bit entry numbers, about 150 bytes per item with its text) plus a
//! small overlay of live changes that shadows it until the next rebuild. Lookups rank in Rust:
//! the employee's recent picks, then exact name, then name prefix, then word prefix.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    Item, ItemKind,
    fold::{email_domain, fold, is_free_mail_domain, words},
};

/// Upper bound of entries one stage of a lookup scans, so no query costs more than a few ms.
const SCAN_CAP: usize = 20_000;

/// A change to apply to the index.
#[derive(Debug, Clone)]
pub enum Change {
    /// The item is new or changed.
    Upsert(Item),
    /// The item no longer exists.
    Delete(ItemKind, i64),
}

/// What a picker shows for one item (the wire crate's, shared with the task pane).
pub use crm_bridge_wire::ItemView;

/// How well an item matches a query; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Exact,
    NamePrefix,
    WordPrefix,
}

/// A parsed query.
struct Query {
    joined: String,
    tokens: Vec<String>,
}

impl Query {
    fn new(text: &str) -> Self {
        let joined = fold(text);
        let tokens = words(&joined).map(str::to_owned).collect();
        Self { joined, tokens }
    }

    fn classify(&self, folded_name: &str) -> Option<Class> {
        if self.tokens.is_empty() {
            return Some(Class::NamePrefix);
        }
        if folded_name == self.joined {
            Some(Class::Exact)
        } else if folded_name.starts_with(&self.joined) {
            Some(Class::NamePrefix)
        } else if self
            .tokens
            .iter()
            .all(|t| words(folded_name).any(|w| w.starts_with(t.as_str())))
        {
            Some(Class::WordPrefix)
        } else {
            None
        }
    }
}

/// Parameters of a lookup.
#[derive(Debug, Clone)]
pub struct Lookup<'a> {
    /// Which kind of record.
    pub kind: ItemKind,
    /// What the user typed.
    pub text: &'a str,
    /// Only records of this firm.
    pub company_id: Option<i64>,
    /// Only open projects/cases and valid firms/persons.
    pub open_only: bool,
    /// Most results to return.
    pub limit: usize,
    /// The employee's recent picks of this kind, most recent first.
    pub recent: &'a [i64],
    /// The security levels the employee may see (`None`: every level).
    pub levels: Option<&'a [i64]>,
}

// ---------------------------------------------------------------------------------------------
// Segment: the immutable bulk part.

/// [`Entry::subtitle_len`] of a person whose subtitle is its firm's name, stored once in the
/// firm's entry instead of once per person (the CRM gives a person's firm name as its subtitle).
pub(super) const FIRM_NAME: u16 = u16::MAX;

/// One item inside a segment; text lives in the segment's arenas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) id: i64,
    pub(super) company_id: i64,
    pub(super) text_off: u32,
    pub(super) fold_off: u32,
    pub(super) name_len: u16,
    /// Bytes of the subtitle in the text after the name, or [`FIRM_NAME`] (none stored).
    pub(super) subtitle_len: u16,
    pub(super) emails_len: u16,
    pub(super) fold_len: u16,
    pub(super) open: bool,
    /// The security level; 0 for none (CRM ids are positive). `u32` keeps the entry at 40
    /// bytes; an id beyond it becomes `u32::MAX`, which no employee's levels contain.
    pub(super) level: u32,
}

/// All items of one kind, sorted by id, with sorted arrays for prefix search.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct KindSegment {
    pub(super) entries: Vec<Entry>,
    pub(super) text: String,
    pub(super) folded: String,
    /// Entry indexes sorted by folded name.
    pub(super) by_name: Vec<u32>,
    /// (entry, byte offset of a word after the first) sorted by the folded name from there on.
    pub(super) words: Vec<(u32, u16)>,
    /// Entries that belong to a firm, sorted by (firm id, entry).
    pub(super) by_company: Vec<u32>,
    /// (32-bit hash of an e-mail address, entry) sorted; a hit is confirmed against the text.
    pub(super) emails: Vec<(u32, u32)>,
}

/// [`Entry::level`] of a security level.
fn level_code(level: Option<i64>) -> u32 {
    level.map_or(0, |l| u32::try_from(l).unwrap_or(u32::MAX))
}

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// FNV-1a: a hash fixed by its definition, so hashes saved in a snapshot (`snapshot`) stay
/// valid across builds and compilers (std's `DefaultHasher` promises neither).
fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// [`hash_str`] folded to 32 bits, for the e-mail array (every hit is checked against the text).
fn hash32(s: &str) -> u32 {
    let h = hash_str(s);
    (h ^ (h >> 32)) as u32
}

/// Heap bytes of a vector's buffer.
fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

impl Entry {
    /// Bytes of the subtitle stored in the text (none for [`FIRM_NAME`]).
    pub(super) fn stored_subtitle_len(&self) -> usize {
        if self.subtitle_len == FIRM_NAME {
            0
        } else {
            self.subtitle_len as usize
        }
    }
}

impl KindSegment {
    fn push(&mut self, item: &Item) {
        let name = clip(&item.name, 1000);
        let subtitle = clip(&item.subtitle, 1000);
        let emails_joined = item.emails.join(" ");
        let emails = clip(&emails_joined, 4000);
        let folded = fold(name);
        let folded = clip(&folded, 1000);
        let (Ok(text_off), Ok(fold_off)) = (
            u32::try_from(self.text.len()),
            u32::try_from(self.folded.len()),
        ) else {
            // Beyond 4 GiB of text; such an item stays searchable after the next rebuild only
            // if the data shrinks. Unreachable for realistic CRMs.
            return;
        };
        self.text.push_str(name);
        self.text.push_str(subtitle);
        self.text.push_str(emails);
        self.folded.push_str(folded);
        self.entries.push(Entry {
            id: item.id,
            company_id: item.company_id.unwrap_or(0),
            text_off,
            fold_off,
            name_len: name.len() as u16,
            subtitle_len: subtitle.len() as u16,
            emails_len: emails.len() as u16,
            fold_len: folded.len() as u16,
            open: item.open,
            level: level_code(item.security_level),
        });
    }

    fn finish(&mut self) {
        self.entries.sort_unstable_by_key(|e| e.id);
        self.entries.dedup_by_key(|e| e.id);
        let n = self.entries.len() as u32;
        let mut by_name: Vec<u32> = (0..n).collect();
        by_name.sort_unstable_by(|a, b| self.folded_at(*a).cmp(self.folded_at(*b)));
        // Counted first, so every array is allocated once at its size: growing by doubling
        // leaves up to half of each unused and the freed smaller buffers in the heap.
        let (mut words_n, mut firms_n, mut emails_n) = (0, 0, 0);
        for i in 0..n {
            words_n += self.folded_at(i).matches(' ').count();
            firms_n += usize::from(self.entries[i as usize].company_id != 0);
            emails_n += self
                .emails_at(i)
                .split(' ')
                .filter(|s| !s.is_empty())
                .count();
        }
        let mut words_idx = Vec::with_capacity(words_n);
        let mut by_company = Vec::with_capacity(firms_n);
        let mut emails = Vec::with_capacity(emails_n);
        for i in 0..n {
            let folded = self.folded_at(i);
            for (pos, _) in folded.match_indices(' ') {
                words_idx.push((i, (pos + 1) as u16));
            }
            if self.entries[i as usize].company_id != 0 {
                by_company.push(i);
            }
            for email in self.emails_at(i).split(' ').filter(|s| !s.is_empty()) {
                emails.push((hash32(email), i));
            }
        }
        words_idx.sort_unstable_by(|a, b| self.word_at(*a).cmp(self.word_at(*b)));
        by_company.sort_unstable_by_key(|i| (self.entries[*i as usize].company_id, *i));
        emails.sort_unstable();
        self.by_name = by_name;
        self.words = words_idx;
        self.by_company = by_company;
        self.emails = emails;
        self.text.shrink_to_fit();
        self.folded.shrink_to_fit();
        self.entries.shrink_to_fit();
    }

    /// Drops the stored subtitles of entries whose subtitle is their firm's name in `firms`,
    /// marking them [`FIRM_NAME`]; the text is packed again without them.
    fn share_firm_names(&mut self, firms: &KindSegment) {
        let mut shared = vec![false; self.entries.len()];
        let mut saved = 0;
        for (i, e) in self.entries.iter().enumerate() {
            if e.subtitle_len == 0 || e.subtitle_len == FIRM_NAME || e.company_id == 0 {
                continue;
            }
            let t = e.text_off as usize + e.name_len as usize;
            let subtitle = &self.text[t..t + e.subtitle_len as usize];
            if firms
                .position(e.company_id)
                .is_some_and(|f| firms.name_at(f) == subtitle)
            {
                shared[i] = true;
                saved += e.subtitle_len as usize;
            }
        }
        if saved == 0 {
            return;
        }
        let mut text = String::with_capacity(self.text.len() - saved);
        for (e, shared) in self.entries.iter_mut().zip(shared) {
            let start = e.text_off as usize;
            let name_end = start + e.name_len as usize;
            let sub_end = name_end + e.stored_subtitle_len();
            let end = sub_end + e.emails_len as usize;
            // Fits: the new text is shorter than the old, whose offsets fit in `u32`.
            e.text_off = text.len() as u32;
            text.push_str(&self.text[start..name_end]);
            if shared {
                e.subtitle_len = FIRM_NAME;
            } else {
                text.push_str(&self.text[name_end..sub_end]);
            }
            text.push_str(&self.text[sub_end..end]);
        }
        self.text = text;
    }

    /// Heap bytes of the arenas and arrays.
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.entries)
            + self.text.capacity()
            + self.folded.capacity()
            + vec_bytes(&self.by_name)
            + vec_bytes(&self.words)
            + vec_bytes(&self.by_company)
            + vec_bytes(&self.emails)
    }

    fn folded_at(&self, i: u32) -> &str {
        let e = &self.entries[i as usize];
        &self.folded[e.fold_off as usize..e.fold_off as usize + e.fold_len as usize]
    }

    fn word_at(&self, (i, off): (u32, u16)) -> &str {
        &self.folded_at(i)[off as usize..]
    }

    fn emails_at(&self, i: u32) -> &str {
        let e = &self.entries[i as usize];
        let start = e.text_off as usize + e.name_len as usize + e.stored_subtitle_len();
        &self.text[start..start + e.emails_len as usize]
    }

    fn name_at(&self, i: u32) -> &str {
        let e = &self.entries[i as usize];
        let start = e.text_off as usize;
        &self.text[start..start + e.name_len as usize]
    }

    /// The stored subtitle; `None` for [`FIRM_NAME`] (see [`Segment::subtitle_at`]).
    fn stored_subtitle_at(&self, i: u32) -> Option<&str> {
        let e = &self.entries[i as usize];
        if e.subtitle_len == FIRM_NAME {
            return None;
        }
        let start = e.text_off as usize + e.name_len as usize;
        Some(&self.text[start..start + e.subtitle_len as usize])
    }

    fn position(&self, id: i64) -> Option<u32> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| i as u32)
    }

    /// Entries whose folded name starts with `prefix`, in name order.
    fn name_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = u32> + 'a {
        let start = self
            .by_name
            .partition_point(|i| self.folded_at(*i) < prefix);
        self.by_name[start..]
            .iter()
            .copied()
            .take_while(move |i| self.folded_at(*i).starts_with(prefix))
    }

    /// Entries with a later word that starts with `prefix`.
    fn word_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = u32> + 'a {
        let start = self.words.partition_point(|w| self.word_at(*w) < prefix);
        self.words[start..]
            .iter()
            .copied()
            .take_while(move |w| self.word_at(*w).starts_with(prefix))
            .map(|(i, _)| i)
    }

    fn of_company(&self, company_id: i64) -> impl Iterator<Item = u32> + '_ {
        let firm = |i: &u32| self.entries[*i as usize].company_id;
        let start = self.by_company.partition_point(|i| firm(i) < company_id);
        self.by_company[start..]
            .iter()
            .copied()
            .take_while(move |i| firm(i) == company_id)
    }

    fn with_email<'a>(&'a self, email: &'a str) -> impl Iterator<Item = u32> + 'a {
        let h = hash32(email);
        let start = self.emails.partition_point(|(x, _)| *x < h);
        self.emails[start..]
            .iter()
            .take_while(move |(x, _)| *x == h)
            .map(|(_, i)| *i)
            .filter(move |i| self.emails_at(*i).split(' ').any(|e| e == email))
    }
}

/// The immutable bulk part of the index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub(super) kinds: [KindSegment; 4],
    /// (hash of a company e-mail domain, firm id) sorted; free-mail domains left out.
    pub(super) domains: Vec<(u64, i64)>,
}

/// Builds a [`Segment`] from a stream of items without holding them all as `Item`s.
#[derive(Debug, Default)]
pub struct SegmentBuilder {
    segment: Segment,
}

impl SegmentBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one item (a later item with the same kind and id replaces nothing: ids are unique).
    pub fn push(&mut self, item: &Item) {
        self.segment.kinds[item.kind.code() as usize].push(item);
        let company = match item.kind {
            ItemKind::Company => Some(item.id),
            ItemKind::Person => item.company_id,
            _ => None,
        };
        if let Some(company) = company {
            for email in &item.emails {
                if let Some(domain) = email_domain(email).filter(|d| !is_free_mail_domain(d)) {
                    self.segment.domains.push((hash_str(domain), company));
                }
            }
        }
    }

    /// Sorts everything; CPU-heavy for large inputs (run it on a blocking thread).
    pub fn finish(mut self) -> Segment {
        for kind in &mut self.segment.kinds {
            kind.finish();
        }
        let [firms, persons, ..] = &mut self.segment.kinds;
        debug_assert_eq!((ItemKind::Company.code(), ItemKind::Person.code()), (0, 1));
        persons.share_firm_names(firms);
        self.segment.domains.sort_unstable();
        self.segment.domains.dedup();
        self.segment.domains.shrink_to_fit();
        self.segment
    }
}

impl Segment {
    /// A segment of `items`.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a Item>) -> Self {
        let mut builder = SegmentBuilder::new();
        for item in items {
            builder.push(item);
        }
        builder.finish()
    }

    fn kind(&self, kind: ItemKind) -> &KindSegment {
        &self.kinds[kind.code() as usize]
    }

    /// The subtitle of entry `i` of `kind`, a shared firm name looked up in the firms.
    fn subtitle_at(&self, kind: ItemKind, i: u32) -> &str {
        let seg = self.kind(kind);
        seg.stored_subtitle_at(i).unwrap_or_else(|| {
            let firms = self.kind(ItemKind::Company);
            // Present: built so, and `snapshot::load` refuses a file where it is not.
            firms
                .position(seg.entries[i as usize].company_id)
                .map_or("", |f| firms.name_at(f))
        })
    }

    fn view(&self, kind: ItemKind, i: u32) -> ItemView {
        let seg = self.kind(kind);
        let e = &seg.entries[i as usize];
        ItemView {
            kind,
            id: e.id,
            name: seg.name_at(i).to_owned(),
            subtitle: self.subtitle_at(kind, i).to_owned(),
            email: seg
                .emails_at(i)
                .split(' ')
                .find(|s| !s.is_empty())
                .map(str::to_owned),
            company_id: (e.company_id != 0).then_some(e.company_id),
            open: e.open,
            security_level: (e.level != 0).then_some(i64::from(e.level)),
        }
    }

    /// Heap bytes of the segment (what the index costs in memory, overlay aside).
    pub fn heap_bytes(&self) -> usize {
        self.kinds
            .iter()
            .map(KindSegment::heap_bytes)
            .sum::<usize>()
            + vec_bytes(&self.domains)
    }

    /// Whether the segment holds `item` exactly as it is: searching it shows the same as
    /// searching the item would (a catch-up skips such rows).
    pub fn holds(&self, item: &Item) -> bool {
        let seg = self.kind(item.kind);
        let Some(i) = seg.position(item.id) else {
            return false;
        };
        let e = &seg.entries[i as usize];
        e.company_id == item.company_id.unwrap_or(0)
            && e.open == item.open
            && e.level == level_code(item.security_level)
            && *seg.name_at(i) == *clip(&item.name, 1000)
            && *self.subtitle_at(item.kind, i) == *clip(&item.subtitle, 1000)
            && *seg.emails_at(i) == *clip(&item.emails.join(" "), 4000)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.kinds.iter().map(|k| k.entries.len()).sum()
    }

    /// Whether the segment holds no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------------------------------------
// The index: segment + overlay.

#[derive(Debug, Clone)]
struct Overlay {
    item: Option<Arc<Item>>,
    /// The folded name, computed once per change instead of once per lookup.
    folded: String,
    version: u64,
}

#[derive(Debug, Default)]
struct State {
    base: Arc<Segment>,
    overlay: HashMap<(ItemKind, i64), Overlay>,
    version: u64,
}

/// Index statistics, for metrics and the health page.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct IndexStats {
    /// Items in the bulk segment.
    pub base: usize,
    /// Changes applied since the last rebuild.
    pub overlay: usize,
}

/// The searchable cache, shared by all requests.
#[derive(Debug, Default)]
pub struct ItemIndex {
    state: RwLock<State>,
}

struct Hit<'a> {
    recent: usize,
    class: Class,
    folded: &'a str,
    view: ItemView,
}

/// Whether an employee who may see `levels` (`None`: every level) sees an item on `level`; see
/// [`ItemView::visible_to`].
fn visible(levels: Option<&[i64]>, level: Option<i64>) -> bool {
    match (levels, level) {
        (Some(levels), Some(level)) => levels.contains(&level),
        _ => true,
    }
}

impl ItemIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written: every write
        // replaces whole values. So a poisoned lock is still safe to use.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies changes at once; returns the new version.
    pub fn apply(&self, changes: impl IntoIterator<Item = Change>) -> u64 {
        let mut state = self.write();
        for change in changes {
            state.version += 1;
            let version = state.version;
            let (key, item, folded) = match change {
                Change::Upsert(item) => {
                    let folded = fold(&item.name);
                    ((item.kind, item.id), Some(Arc::new(item)), folded)
                }
                Change::Delete(kind, id) => ((kind, id), None, String::new()),
            };
            state.overlay.insert(
                key,
                Overlay {
                    item,
                    folded,
                    version,
                },
            );
        }
        state.version
    }

    /// The version a rebuild starts from: changes up to it are in the database it reads.
    pub fn version(&self) -> u64 {
        self.read().version
    }

    /// Installs a rebuilt segment that contains every change up to `version`.
    pub fn install(&self, segment: Segment, version: u64) {
        self.install_shared(Arc::new(segment), version);
    }

    /// [`install`](Self::install) for a segment that is also kept elsewhere (being saved).
    pub fn install_shared(&self, segment: Arc<Segment>, version: u64) {
        let mut state = self.write();
        state.base = segment;
        state.overlay.retain(|_, o| o.version > version);
    }

    /// Sizes of the segment and the overlay.
    pub fn stats(&self) -> IndexStats {
        let state = self.read();
        IndexStats {
            base: state.base.len(),
            overlay: state.overlay.len(),
        }
    }

    /// The item with this kind and id.
    pub fn get(&self, kind: ItemKind, id: i64) -> Option<ItemView> {
        let state = self.read();
        if let Some(o) = state.overlay.get(&(kind, id)) {
            return o.item.as_deref().map(view_of);
        }
        let seg = state.base.kind(kind);
        seg.position(id).map(|i| state.base.view(kind, i))
    }

    /// Searches one kind; see the module documentation for the ranking.
    pub fn lookup(&self, lookup: &Lookup<'_>) -> Vec<ItemView> {
        let query = Query::new(lookup.text);
        let state = self.read();
        let seg = state.base.kind(lookup.kind);
        let recent_rank = |id: i64| {
            lookup
                .recent
                .iter()
                .position(|r| *r == id)
                .unwrap_or(usize::MAX)
        };
        // Filters that need no text, checked before anything is copied out of the index.
        let admits = |open: bool, level: Option<i64>, company: Option<i64>| {
            (!lookup.open_only || open)
                && visible(lookup.levels, level)
                && lookup.company_id.is_none_or(|c| company == Some(c))
        };
        let mut hits: Vec<Hit<'_>> = Vec::new();
        // Hits that are not recent picks: the search stops at `limit` of them.
        let mut fresh = 0;
        let mut seen: HashSet<i64> = HashSet::new();
        let limit = lookup.limit.max(1);

        // Live changes first: they shadow the segment.
        for ((kind, id), o) in &state.overlay {
            if *kind != lookup.kind {
                continue;
            }
            let Some(item) = &o.item else { continue };
            if admits(item.open, item.security_level, item.company_id)
                && seen.insert(*id)
                && let Some(class) = query.classify(&o.folded)
            {
                let recent = recent_rank(*id);
                fresh += usize::from(recent == usize::MAX);
                hits.push(Hit {
                    recent,
                    class,
                    folded: &o.folded,
                    view: view_of(item),
                });
            }
        }
        // Adds entry `i` if it matches; returns 1 for a hit that is not a recent pick.
        let mut base_hit = |i: u32| -> usize {
            let e = &seg.entries[i as usize];
            if state.overlay.contains_key(&(lookup.kind, e.id))
                || !admits(
                    e.open,
                    (e.level != 0).then_some(i64::from(e.level)),
                    (e.company_id != 0).then_some(e.company_id),
                )
                || !seen.insert(e.id)
            {
                return 0;
            }
            let folded = seg.folded_at(i);
            if let Some(class) = query.classify(folded) {
                let recent = recent_rank(e.id);
                hits.push(Hit {
                    recent,
                    class,
                    folded,
                    view: state.base.view(lookup.kind, i),
                });
                return usize::from(recent == usize::MAX);
            }
            0
        };

        // The employee's recent picks of this kind.
        for id in lookup.recent {
            if let Some(i) = seg.position(*id) {
                fresh += base_hit(i);
            }
        }

        if let Some(company) = lookup.company_id {
            // Every item of the firm is considered: `limit` cuts after the ranking.
            for i in seg.of_company(company).take(SCAN_CAP) {
                base_hit(i);
            }
        } else if query.tokens.is_empty() {
            // No text and no firm: only the recent picks.
        } else {
            // Stage by stage, each only while fewer than `limit` hits are found (the binary
            // searches of a stage not needed are not made).
            for i in seg.name_prefix(&query.joined).take(SCAN_CAP) {
                if fresh >= limit {
                    break;
                }
                fresh += base_hit(i);
            }
            if fresh < limit {
                for i in seg.word_prefix(&query.joined).take(SCAN_CAP) {
                    if fresh >= limit {
                        break;
                    }
                    fresh += base_hit(i);
                }
            }
            if fresh < limit && query.tokens.len() > 1 {
                // Words in another order ("novak jiri" for "Jiří Novák"): scan the items of the
                // most selective (longest) word and check the others.
                let longest = query
                    .tokens
                    .iter()
                    .max_by_key(|t| t.len())
                    .map_or("", |t| t.as_str());
                let candidates = seg.name_prefix(longest).chain(seg.word_prefix(longest));
                for i in candidates.take(SCAN_CAP) {
                    if fresh >= limit {
                        break;
                    }
                    fresh += base_hit(i);
                }
            }
        }

        hits.sort_by(|a, b| {
            (a.recent, a.class, a.folded, a.view.id).cmp(&(b.recent, b.class, b.folded, b.view.id))
        });
        hits.truncate(limit);
        hits.into_iter().map(|h| h.view).collect()
    }

    /// Persons and firms having exactly this e-mail address (normalised).
    pub fn with_email(&self, email: &str) -> Vec<ItemView> {
        let state = self.read();
        let mut out = Vec::new();
        for kind in [ItemKind::Person, ItemKind::Company] {
            let seg = state.base.kind(kind);
            for i in seg.with_email(email) {
                let view = state.base.view(kind, i);
                if !state.overlay.contains_key(&(kind, view.id)) {
                    out.push(view);
                }
            }
        }
        for o in state.overlay.values() {
            if let Some(item) = &o.item
                && matches!(item.kind, ItemKind::Person | ItemKind::Company)
                && item.emails.iter().any(|e| e == email)
            {
                out.push(view_of(item));
            }
        }
        out
    }

    /// Firms whose (or whose persons') e-mail addresses use `domain`; free-mail domains give
    /// nothing.
    pub fn companies_with_domain(&self, domain: &str) -> Vec<i64> {
        if is_free_mail_domain(domain) {
            return Vec::new();
        }
        let state = self.read();
        let h = hash_str(domain);
        let domains = &state.base.domains;
        let start = domains.partition_point(|(x, _)| *x < h);
        let mut out: Vec<i64> = domains[start..]
            .iter()
            .take_while(|(x, _)| *x == h)
            .map(|(_, c)| *c)
            .collect();
        for o in state.overlay.values() {
            if let Some(item) = &o.item {
                let company = match item.kind {
                    ItemKind::Company => Some(item.id),
                    ItemKind::Person => item.company_id,
                    _ => None,
                };
                if let Some(c) = company
                    && item.emails.iter().any(|e| email_domain(e) == Some(domain))
                {
                    out.push(c);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        // Domains of firms deleted since the last rebuild are still in the segment's list.
        // (A hash collision could name a firm of another domain; it is only a suggestion.)
        out.retain(|c| company_exists(&state, *c));
        out
    }
}

fn company_exists(state: &State, company: i64) -> bool {
    match state.overlay.get(&(ItemKind::Company, company)) {
        Some(o) => o.item.is_some(),
        None => state
            .base
            .kind(ItemKind::Company)
            .position(company)
            .is_some(),
    }
}

fn view_of(item: &Item) -> ItemView {
    ItemView {
        kind: item.kind,
        id: item.id,
        name: item.name.clone(),
        subtitle: item.subtitle.clone(),
        email: item.emails.first().cloned(),
        company_id: item.company_id,
        open: item.open,
        security_level: item.security_level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: ItemKind, id: i64, name: &str) -> Item {
        Item {
            kind,
            id,
            name: name.into(),
            subtitle: String::new(),
            emails: Vec::new(),
            company_id: None,
            open: true,
            updated_at: None,
            security_level: None,
        }
    }

    fn names(hits: &[ItemView]) -> Vec<&str> {
        hits.iter().map(|h| h.name.as_str()).collect()
    }

    fn find(index: &ItemIndex, kind: ItemKind, text: &str) -> Vec<ItemView> {
        index.lookup(&Lookup {
            kind,
            text,
            company_id: None,
            open_only: false,
            limit: 10,
            recent: &[],
            levels: None,
        })
    }

    fn sample() -> ItemIndex {
        let items = [
            item(ItemKind::Company, 1, "Vítkovice Steel a.s."),
            item(ItemKind::Company, 2, "Nová Huť Vítkovice"),
            item(ItemKind::Company, 3, "Vitk"),
            item(ItemKind::Company, 4, "Alfa spol. s r.o."),
            item(ItemKind::Person, 10, "Jiří Novák"),
            item(ItemKind::Person, 11, "Petra Nováková"),
        ];
        let index = ItemIndex::new();
        index.install(Segment::from_items(&items), 0);
        index
    }

    #[test]
    fn a_level_filter_hides_records_on_other_levels_in_the_segment_and_the_overlay() {
        let on = |id: i64, name: &str, level: Option<i64>| Item {
            security_level: level,
            ..item(ItemKind::Company, id, name)
        };
        let index = ItemIndex::new();
        index.install(
            Segment::from_items(&[on(1, "Alfa shared", Some(1)), on(2, "Alfa board", Some(7))]),
            0,
        );
        index.apply([
            Change::Upsert(on(3, "Alfa new board", Some(7))),
            Change::Upsert(on(4, "Alfa unlevelled", None)),
        ]);
        let find_on = |levels: Option<&[i64]>| {
            let mut ids: Vec<i64> = index
                .lookup(&Lookup {
                    kind: ItemKind::Company,
                    text: "alfa",
                    company_id: None,
                    open_only: false,
                    limit: 10,
                    recent: &[2],
                    levels,
                })
                .iter()
                .map(|v| v.id)
                .collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(find_on(Some(&[1])), [1, 4]);
        assert_eq!(find_on(Some(&[1, 7])), [1, 2, 3, 4]);
        assert_eq!(find_on(None), [1, 2, 3, 4]);
    }

    #[test]
    fn typing_without_diacritics_finds_the_name_with_them() {
        let hits = find(&sample(), ItemKind::Company, "vitk");
        assert_eq!(
            names(&hits),
            vec!["Vitk", "Vítkovice Steel a.s.", "Nová Huť Vítkovice"]
        );
    }

    #[test]
    fn exact_beats_name_prefix_beats_word_prefix() {
        let hits = find(&sample(), ItemKind::Company, "VITK");
        assert_eq!(hits[0].id, 3, "exact");
        assert_eq!(hits[1].id, 1, "name prefix");
        assert_eq!(hits[2].id, 2, "word prefix");
    }

    #[test]
    fn words_in_any_order_match() {
        let index = sample();
        assert_eq!(
            names(&find(&index, ItemKind::Person, "novak jiri")),
            vec!["Jiří Novák"]
        );
        assert_eq!(
            names(&find(&index, ItemKind::Person, "jiri nov")),
            vec!["Jiří Novák"]
        );
        assert!(find(&index, ItemKind::Person, "jiri x").is_empty());
    }

    #[test]
    fn kinds_do_not_mix() {
        assert!(find(&sample(), ItemKind::Project, "vitk").is_empty());
        assert_eq!(names(&find(&sample(), ItemKind::Person, "nov")).len(), 2);
    }

    #[test]
    fn recent_picks_come_first_and_an_empty_query_shows_only_them() {
        let index = sample();
        let recent = [2];
        let lookup = Lookup {
            kind: ItemKind::Company,
            text: "vitk",
            company_id: None,
            open_only: false,
            limit: 10,
            recent: &recent,
            levels: None,
        };
        assert_eq!(index.lookup(&lookup)[0].id, 2);
        let empty = Lookup { text: "", ..lookup };
        assert_eq!(names(&index.lookup(&empty)), vec!["Nová Huť Vítkovice"]);
    }

    #[test]
    fn changes_shadow_the_segment_until_a_rebuild_and_survive_it() {
        let index = sample();
        let v = index.apply([
            Change::Upsert(item(ItemKind::Company, 1, "Ostravské Vítkovice")),
            Change::Delete(ItemKind::Company, 3),
            Change::Upsert(item(ItemKind::Company, 5, "Vitkov Trading")),
        ]);
        let hits = find(&index, ItemKind::Company, "vitk");
        assert_eq!(
            names(&hits),
            vec![
                "Vitkov Trading",
                "Nová Huť Vítkovice",
                "Ostravské Vítkovice"
            ]
        );
        assert!(index.get(ItemKind::Company, 3).is_none());
        assert_eq!(index.stats().overlay, 3);

        // A rebuild that saw the changes drops them from the overlay.
        let rebuilt = [
            item(ItemKind::Company, 1, "Ostravské Vítkovice"),
            item(ItemKind::Company, 2, "Nová Huť Vítkovice"),
            item(ItemKind::Company, 5, "Vitkov Trading"),
        ];
        index.install(Segment::from_items(&rebuilt), v);
        assert_eq!(index.stats().overlay, 0);
        assert_eq!(
            names(&find(&index, ItemKind::Company, "vitk")),
            names(&hits)
        );
    }

    #[test]
    fn a_firm_filter_and_open_only_narrow_the_results() {
        let mut a = item(ItemKind::Project, 20, "Rekonstrukce haly");
        a.company_id = Some(1);
        let mut b = item(ItemKind::Project, 21, "Rekonstrukce kotelny");
        b.company_id = Some(2);
        let mut c = item(ItemKind::Project, 22, "Rekonstrukce střechy");
        c.company_id = Some(1);
        c.open = false;
        let index = ItemIndex::new();
        index.install(Segment::from_items(&[a, b, c]), 0);
        let lookup = Lookup {
            kind: ItemKind::Project,
            text: "rek",
            company_id: Some(1),
            open_only: false,
            limit: 10,
            recent: &[],
            levels: None,
        };
        assert_eq!(
            names(&index.lookup(&lookup)),
            vec!["Rekonstrukce haly", "Rekonstrukce střechy"]
        );
        let open = Lookup {
            open_only: true,
            ..lookup.clone()
        };
        assert_eq!(names(&index.lookup(&open)), vec!["Rekonstrukce haly"]);
        let all_of_firm = Lookup {
            text: "",
            open_only: true,
            ..lookup
        };
        assert_eq!(
            names(&index.lookup(&all_of_firm)),
            vec!["Rekonstrukce haly"]
        );
    }

    #[test]
    fn e_mails_and_domains_find_persons_and_firms_but_free_mail_does_not() {
        let mut firm = item(ItemKind::Company, 1, "Vítkovice Steel a.s.");
        firm.emails = vec!["info@vitkovice.cz".into()];
        let mut person = item(ItemKind::Person, 10, "Jiří Novák");
        person.emails = vec![
            "jiri.novak@vitkovice-steel.cz".into(),
            "jnovak@gmail.com".into(),
        ];
        person.company_id = Some(1);
        let index = ItemIndex::new();
        index.install(Segment::from_items(&[firm, person]), 0);
        assert_eq!(index.with_email("jiri.novak@vitkovice-steel.cz")[0].id, 10);
        assert_eq!(index.with_email("jnovak@gmail.com")[0].id, 10);
        assert!(index.with_email("other@vitkovice.cz").is_empty());
        assert_eq!(index.companies_with_domain("vitkovice.cz"), vec![1]);
        assert_eq!(index.companies_with_domain("vitkovice-steel.cz"), vec![1]);
        assert!(index.companies_with_domain("gmail.com").is_empty());
    }

    #[test]
    fn a_persons_firm_name_subtitle_is_stored_once_and_shown_as_before() {
        let firm = Item {
            subtitle: "12345678".into(),
            ..item(ItemKind::Company, 1, "Vítkovice Steel a.s.")
        };
        let person = |id: i64, subtitle: &str| Item {
            subtitle: subtitle.into(),
            company_id: Some(1),
            emails: vec![format!("p{id}@vitkovice.cz")],
            ..item(ItemKind::Person, id, "Jiří Novák")
        };
        let items = [
            firm,
            person(10, "Vítkovice Steel a.s."),
            person(11, "Vítkovice Steel"),
        ];
        let segment = Segment::from_items(&items);
        let persons = segment.kind(ItemKind::Person);
        assert_eq!(persons.entries[0].subtitle_len, FIRM_NAME);
        assert_ne!(persons.entries[1].subtitle_len, FIRM_NAME);
        assert!(!persons.text.contains("Vítkovice Steel a.s."));
        assert!(items.iter().all(|i| segment.holds(i)));
        let index = ItemIndex::new();
        index.install(segment, 0);
        let shown = index.get(ItemKind::Person, 10).expect("person 10");
        assert_eq!(shown.subtitle, "Vítkovice Steel a.s.");
        assert_eq!(shown.email.as_deref(), Some("p10@vitkovice.cz"));
        assert_eq!(
            index.with_email("p11@vitkovice.cz")[0].subtitle,
            "Vítkovice Steel"
        );
    }

    #[test]
    fn a_segment_of_a_typical_crm_costs_under_150_bytes_an_item() {
        // Shaped like the bench's CRM: per firm 3 persons on its domain, a case and a project.
        let mut items = Vec::new();
        for f in 0..2_000i64 {
            let firm = format!("Strojírny Třinec{f} Metal s.r.o.");
            let domain = format!("strojirnytrinec{f}.cz");
            items.push(Item {
                subtitle: format!("{:08}", 10_000_000 + f),
                emails: vec![format!("info@{domain}")],
                ..item(ItemKind::Company, f + 1, &firm)
            });
            for p in 0..3 {
                items.push(Item {
                    subtitle: firm.clone(),
                    emails: vec![format!("jiri.novak{p}@{domain}")],
                    company_id: Some(f + 1),
                    ..item(ItemKind::Person, f * 3 + p + 1, &format!("Jiří Novák{p}"))
                });
            }
            for kind in [ItemKind::Project, ItemKind::BusinessCase] {
                items.push(Item {
                    subtitle: format!("PRO-24-{f:04}"),
                    company_id: Some(f + 1),
                    ..item(kind, f + 1, &format!("Dodávka linky – Třinec{f}"))
                });
            }
        }
        let segment = Segment::from_items(&items);
        let per_item = segment.heap_bytes() / items.len();
        assert!(per_item < 150, "{per_item} bytes an item");
    }

    #[test]
    fn limits_cut_the_list_after_ranking() {
        let items: Vec<Item> = (0..100)
            .map(|i| item(ItemKind::Company, i, &format!("Firma {i:03}")))
            .collect();
        let index = ItemIndex::new();
        index.install(Segment::from_items(&items), 0);
        let lookup = Lookup {
            kind: ItemKind::Company,
            text: "firma 0",
            company_id: None,
            open_only: false,
            limit: 5,
            recent: &[],
            levels: None,
        };
        assert_eq!(
            names(&index.lookup(&lookup)),
            vec![
                "Firma 000",
                "Firma 001",
                "Firma 002",
                "Firma 003",
                "Firma 004"
            ]
        );
    }
}
