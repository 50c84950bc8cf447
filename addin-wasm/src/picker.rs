//! One type-ahead picker as a state machine, free of timers and the DOM: input starts a debounce
//! round, only the latest round's lookup may fill the list (stale answers are dropped), and
//! ↑ ↓ Enter Esc move through and pick from the list.

use crate::model::{Item, Kind};

/// How long typing must pause before a lookup is sent.
pub const DEBOUNCE_MS: i32 = 150;

/// Keys the picker reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// ↑
    Up,
    /// ↓
    Down,
    /// Enter
    Enter,
    /// Esc
    Escape,
}

impl Key {
    /// The key for a DOM `KeyboardEvent.key`.
    pub fn from_dom(key: &str) -> Option<Self> {
        match key {
            "ArrowUp" | "Up" => Some(Key::Up),
            "ArrowDown" | "Down" => Some(Key::Down),
            "Enter" => Some(Key::Enter),
            "Escape" | "Esc" => Some(Key::Escape),
            _ => None,
        }
    }
}

/// A lookup the caller should send, tagged with the round it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The round; pass it back with the answer.
    pub round: u64,
    /// The text to look up (may be empty: recent picks).
    pub query: String,
}

/// What a key press did.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyOutcome {
    /// Nothing (let the browser handle the key).
    Ignored,
    /// The highlight moved.
    Moved,
    /// This item was picked.
    Picked(Item),
    /// The list was closed.
    Closed,
}

/// The state of one picker.
#[derive(Debug, Clone)]
pub struct Picker {
    /// What it picks.
    pub kind: Kind,
    query: String,
    round: u64,
    results: Vec<Item>,
    highlight: Option<usize>,
    open: bool,
    loading: bool,
}

impl Picker {
    /// An empty, closed picker for `kind`.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            query: String::new(),
            round: 0,
            results: Vec::new(),
            highlight: None,
            open: false,
            loading: false,
        }
    }

    /// The text typed: starts a new round. Call [`Picker::debounced`] with the returned round
    /// after [`DEBOUNCE_MS`].
    pub fn input(&mut self, text: &str) -> u64 {
        self.query = text.to_owned();
        self.round += 1;
        self.open = true;
        self.loading = true;
        self.round
    }

    /// The input got focus: look up recent picks at once (a new round).
    pub fn focus(&mut self) -> Fetch {
        self.round += 1;
        self.open = true;
        self.loading = true;
        Fetch {
            round: self.round,
            query: self.query.trim().to_owned(),
        }
    }

    /// The debounce of `round` ran out: the lookup to send, unless typing went on since.
    pub fn debounced(&self, round: u64) -> Option<Fetch> {
        (round == self.round).then(|| Fetch {
            round,
            query: self.query.trim().to_owned(),
        })
    }

    /// A lookup answered. Returns false (and changes nothing) for a stale round.
    pub fn answered(&mut self, round: u64, items: Vec<Item>) -> bool {
        if round != self.round {
            return false;
        }
        self.results = items;
        self.loading = false;
        self.highlight = (!self.results.is_empty()).then_some(0);
        true
    }

    /// A lookup failed: stop showing "searching" if it was the current round.
    pub fn failed(&mut self, round: u64) {
        if round == self.round {
            self.loading = false;
        }
    }

    /// A key was pressed in the input.
    pub fn key(&mut self, key: Key) -> KeyOutcome {
        let n = self.results.len();
        match key {
            Key::Escape if self.open => {
                self.close();
                KeyOutcome::Closed
            }
            Key::Down | Key::Up if !self.open => {
                self.open = true;
                KeyOutcome::Moved
            }
            Key::Down if n > 0 => {
                self.highlight = Some(self.highlight.map_or(0, |h| (h + 1) % n));
                KeyOutcome::Moved
            }
            Key::Up if n > 0 => {
                self.highlight = Some(self.highlight.map_or(n - 1, |h| (h + n - 1) % n));
                KeyOutcome::Moved
            }
            Key::Enter if self.open => match self.highlight {
                Some(i) => self.pick(i).map_or(KeyOutcome::Ignored, KeyOutcome::Picked),
                None => KeyOutcome::Ignored,
            },
            _ => KeyOutcome::Ignored,
        }
    }

    /// The item at `index` was clicked or entered: it is returned, the picker is reset.
    pub fn pick(&mut self, index: usize) -> Option<Item> {
        let item = self.results.get(index).cloned()?;
        self.query.clear();
        self.round += 1;
        self.close();
        Some(item)
    }

    /// Closes the list (pending answers become stale).
    pub fn close(&mut self) {
        self.open = false;
        self.loading = false;
        self.highlight = None;
        self.round += 1;
    }

    /// The current round (answers of older ones are dropped).
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The typed text.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The listed items.
    pub fn results(&self) -> &[Item] {
        &self.results
    }

    /// The highlighted row.
    pub fn highlight(&self) -> Option<usize> {
        self.highlight
    }

    /// Whether the list is shown.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether a lookup of the current round is outstanding.
    pub fn is_loading(&self) -> bool {
        self.loading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, name: &str) -> Item {
        Item {
            kind: Kind::Company,
            id,
            name: name.into(),
            subtitle: String::new(),
            email: None,
            company_id: None,
            open: true,
            security_level: None,
        }
    }

    #[test]
    fn only_the_last_keystroke_of_a_burst_sends_a_lookup() {
        let mut p = Picker::new(Kind::Company);
        let r1 = p.input("v");
        let r2 = p.input("vi");
        let r3 = p.input("vitk ");
        assert_eq!(p.debounced(r1), None);
        assert_eq!(p.debounced(r2), None);
        assert_eq!(
            p.debounced(r3),
            Some(Fetch {
                round: r3,
                query: "vitk".into()
            })
        );
    }

    #[test]
    fn an_answer_for_an_older_round_is_dropped_and_the_current_one_shown() {
        let mut p = Picker::new(Kind::Company);
        let old = p.input("v");
        let new = p.input("vitk");
        assert!(p.answered(new, vec![item(1, "Vítkovice a.s.")]));
        assert!(!p.answered(old, vec![item(2, "Valašské")]));
        assert_eq!(p.results()[0].name, "Vítkovice a.s.");
        assert!(!p.is_loading());
        assert_eq!(p.highlight(), Some(0));
    }

    #[test]
    fn arrows_wrap_around_and_enter_picks_the_highlighted_item() {
        let mut p = Picker::new(Kind::Company);
        let r = p.input("a");
        p.answered(r, vec![item(1, "A"), item(2, "B"), item(3, "C")]);
        assert_eq!(p.key(Key::Up), KeyOutcome::Moved);
        assert_eq!(p.highlight(), Some(2));
        assert_eq!(p.key(Key::Down), KeyOutcome::Moved);
        assert_eq!(p.key(Key::Down), KeyOutcome::Moved);
        assert_eq!(p.highlight(), Some(1));
        assert_eq!(p.key(Key::Enter), KeyOutcome::Picked(item(2, "B")));
        assert!(!p.is_open());
        assert_eq!(p.query(), "");
    }

    #[test]
    fn escape_closes_the_list_and_makes_the_outstanding_lookup_stale() {
        let mut p = Picker::new(Kind::Person);
        let r = p.input("jan");
        assert_eq!(p.key(Key::Escape), KeyOutcome::Closed);
        assert!(!p.is_open());
        assert!(!p.answered(r, vec![item(1, "Jan")]));
        assert_eq!(p.key(Key::Escape), KeyOutcome::Ignored);
        assert_eq!(p.key(Key::Enter), KeyOutcome::Ignored);
    }

    #[test]
    fn dom_key_names_map_to_picker_keys() {
        assert_eq!(Key::from_dom("ArrowDown"), Some(Key::Down));
        assert_eq!(Key::from_dom("Escape"), Some(Key::Escape));
        assert_eq!(Key::from_dom("a"), None);
    }
}
