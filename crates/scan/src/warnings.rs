//! Warnings gathered while scanning, bounded in memory.

/// Warnings a report lists by text; beyond this they are only counted (an
/// image of thousands of layers, each with files over the budget, must
/// not turn into millions of strings).
pub const MAX_WARNINGS: usize = 1000;

/// Warnings gathered while scanning: the first [`MAX_WARNINGS`], then a
/// count.
#[derive(Debug, Default)]
pub struct Warnings {
    list: Vec<String>,
    more: u64,
}

impl Warnings {
    pub fn extend(&mut self, items: impl IntoIterator<Item = String>) {
        for w in items {
            if self.list.len() < MAX_WARNINGS {
                self.list.push(w);
            } else {
                self.more += 1;
            }
        }
    }

    /// The listed warnings, and a last one counting the rest.
    pub fn into_vec(mut self) -> Vec<String> {
        if self.more > 0 {
            self.list
                .push(format!("{} more warnings not listed", self.more));
        }
        self.list
    }
}
