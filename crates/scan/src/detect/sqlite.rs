//! Just enough of the SQLite file format (sqlite.org/fileformat2.html) to
//! read every row of one table from a database held in memory: the rpm
//! database of Fedora, RHEL 9 and their clones is an SQLite file, and the
//! scan layer reads layers without writing them to disk or linking a
//! database engine. Read-only, rollback-journal or checkpointed WAL files
//! only (a pending `-wal` file is not read); every offset is checked, a
//! malformed file ends in `None` or fewer rows, never a panic, and page
//! visits are bounded so a cyclic tree terminates.

/// A column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
}

/// SQLite's varint: big-endian 7-bit groups, at most 9 bytes (the 9th
/// contributes all 8 bits).
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().enumerate().take(9) {
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn be(b: &[u8], at: usize, len: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(len)?)?;
    Some(s.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
}

impl<'a> Db<'a> {
    fn open(data: &'a [u8]) -> Option<Db<'a>> {
        if !data.starts_with(b"SQLite format 3\0") {
            return None;
        }
        let page_size = match be(data, 16, 2)? {
            1 => 65536,
            n if (512..=32768).contains(&n) && n.is_power_of_two() => n as usize,
            _ => return None,
        };
        let reserved = usize::from(*data.get(20)?);
        let usable = page_size.checked_sub(reserved).filter(|&u| u >= 480)?;
        Some(Db {
            data,
            page_size,
            usable,
        })
    }

    fn page(&self, n: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(n.checked_sub(1)?)
            .ok()?
            .checked_mul(self.page_size)?;
        self.data.get(start..start.checked_add(self.page_size)?)
    }

    /// Every row payload of the table b-tree rooted at `root`, in rowid
    /// order, with overflow pages joined.
    fn table(&self, root: u64, rows: &mut Vec<std::borrow::Cow<'a, [u8]>>) {
        let max_visits = self.data.len() / self.page_size + 1;
        let mut visits = 0;
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            visits += 1;
            if visits > max_visits {
                return;
            }
            let Some(page) = self.page(n) else { continue };
            // Page 1 holds the 100-byte file header before its b-tree page.
            let hdr = if n == 1 { 100 } else { 0 };
            let Some(&kind) = page.get(hdr) else { continue };
            let Some(cells) = be(page, hdr + 3, 2) else {
                continue;
            };
            match kind {
                0x05 => {
                    let Some(right) = be(page, hdr + 8, 4) else {
                        continue;
                    };
                    // Pushed in reverse so children pop in key order.
                    stack.push(right);
                    for i in (0..cells as usize).rev() {
                        if let Some(child) =
                            be(page, hdr + 12 + 2 * i, 2).and_then(|off| be(page, off as usize, 4))
                        {
                            stack.push(child);
                        }
                    }
                }
                0x0d => {
                    for i in 0..cells as usize {
                        let Some(off) = be(page, hdr + 8 + 2 * i, 2) else {
                            break;
                        };
                        if let Some(p) = self.leaf_cell(page, off as usize) {
                            rows.push(p);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn leaf_cell(&self, page: &'a [u8], off: usize) -> Option<std::borrow::Cow<'a, [u8]>> {
        let (size, a) = varint(page.get(off..)?)?;
        let (_rowid, b) = varint(page.get(off + a..)?)?;
        let start = off + a + b;
        let size = usize::try_from(size).ok()?;
        let u = self.usable;
        let x = u - 35;
        if size <= x {
            return page
                .get(start..start.checked_add(size)?)
                .map(std::borrow::Cow::Borrowed);
        }
        let m = ((u - 12) * 32 / 255) - 23;
        let k = m + ((size - m) % (u - 4));
        let local = if k <= x { k } else { m };
        if size > self.data.len() {
            return None;
        }
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(page.get(start..start + local)?);
        let mut next = be(page, start + local, 4)?;
        let mut hops = 0;
        while out.len() < size {
            hops += 1;
            if next == 0 || hops > self.data.len() / self.page_size {
                return None;
            }
            let p = self.page(next)?;
            next = be(p, 0, 4)?;
            let take = (size - out.len()).min(u - 4);
            out.extend_from_slice(p.get(4..4 + take)?);
        }
        Some(std::borrow::Cow::Owned(out))
    }
}

/// Decodes a record (header of serial types, then values).
pub fn record(payload: &[u8]) -> Option<Vec<Value<'_>>> {
    let (hlen, mut at) = varint(payload)?;
    let hlen = usize::try_from(hlen).ok()?;
    let mut body = hlen;
    let mut out = Vec::new();
    while at < hlen {
        let (t, n) = varint(payload.get(at..hlen)?)?;
        at += n;
        let (len, v) = match t {
            0 => (0, Value::Null),
            8 => (0, Value::Int(0)),
            9 => (0, Value::Int(1)),
            1..=6 => {
                let len = [0, 1, 2, 3, 4, 6, 8][t as usize];
                let raw = be(payload, body, len)?;
                let shift = 64 - 8 * len as u32;
                (len, Value::Int(((raw << shift) as i64) >> shift))
            }
            7 => (8, Value::Float(f64::from_bits(be(payload, body, 8)?))),
            t if t >= 12 => {
                let len = usize::try_from((t - 12) / 2).ok()?;
                let s = payload.get(body..body.checked_add(len)?)?;
                if t % 2 == 0 {
                    (len, Value::Blob(s))
                } else {
                    (len, Value::Text(s))
                }
            }
            _ => return None,
        };
        body += len;
        out.push(v);
    }
    Some(out)
}

/// Column `column` of every row of the table `name` that holds a blob or
/// text there; `None` if the file is not an SQLite database or has no such
/// table.
pub fn column_bytes(data: &[u8], name: &str, column: usize) -> Option<Vec<Vec<u8>>> {
    let db = Db::open(data)?;
    let mut schema = Vec::new();
    db.table(1, &mut schema);
    let root = schema.iter().find_map(|p| {
        let r = record(p)?;
        match (r.first()?, r.get(1)?, r.get(3)?) {
            (Value::Text(b"table"), Value::Text(n), Value::Int(root)) if *n == name.as_bytes() => {
                u64::try_from(*root).ok()
            }
            _ => None,
        }
    })?;
    let mut payloads = Vec::new();
    db.table(root, &mut payloads);
    Some(
        payloads
            .iter()
            .filter_map(|p| match record(p)?.get(column)? {
                Value::Blob(b) => Some(b.to_vec()),
                Value::Text(t) => Some(t.to_vec()),
                _ => None,
            })
            .collect(),
    )
}
