//! The dpkg and rpm comparators against the real tools, on the tables and on
//! thousands of generated pairs: `dpkg --compare-versions` and rpm's
//! `rpm.vercmp` (its Lua binding, which parses epoch:version-release and
//! compares with rpmvercmp). A missing tool skips the check on a developer's
//! machine and fails it under CI (scripts/install-test-deps.sh installs both).

use std::cmp::Ordering;
use std::process::Command;

use super::Scheme;

const PAIRS: usize = 2000;

fn tool_present(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is missing; scripts/install-test-deps.sh installs it"
        );
        eprintln!("skipping: {name} is not installed");
    }
    found
}

/// A deterministic generator, so a failure reproduces.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// Pairs that mostly share a prefix, so the interesting rules (tilde,
/// leading zeros, letters against digits, revisions) decide.
fn pairs(seed: u64, epochs: &[&str], parts: &[&str], revisions: &[&str]) -> Vec<(String, String)> {
    let mut rng = XorShift(seed);
    let one = |rng: &mut XorShift, base: &str| {
        let mut s = String::new();
        s.push_str(rng.pick(epochs));
        s.push_str(base);
        for _ in 0..rng.next() % 3 {
            s.push_str(rng.pick(parts));
        }
        s.push_str(rng.pick(revisions));
        s
    };
    (0..PAIRS)
        .map(|_| {
            let base = rng
                .pick(&["0", "1", "1.0", "1.2", "2", "10", "1.01", "007"])
                .to_string();
            (one(&mut rng, &base), one(&mut rng, &base))
        })
        .collect()
}

fn dpkg_says(a: &str, b: &str) -> Ordering {
    let holds = |op: &str| {
        let st = Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("run dpkg");
        match st.code() {
            Some(0) => true,
            Some(1) => false,
            other => panic!("dpkg --compare-versions {a:?} {op} {b:?}: exit {other:?}"),
        }
    };
    if holds("lt") {
        Ordering::Less
    } else if holds("eq") {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

#[test]
fn dpkg_agrees_with_dpkg_compare_versions() {
    if !tool_present("dpkg") {
        return;
    }
    let mut cases: Vec<(String, String)> = super::dpkg::tests::CASES
        .iter()
        .map(|(a, _, b)| (a.to_string(), b.to_string()))
        .collect();
    cases.extend(pairs(
        0x5eed_d9c6,
        &["", "", "", "0:", "1:"],
        &[
            ".0", ".1", ".10", ".01", "a", "b", "~", "~rc1", "~~", "+", "+dfsg", "+b1", "p1", ".",
            "z", "A", "+deb12u1",
        ],
        &[
            "",
            "",
            "-1",
            "-0",
            "-1+b1",
            "-2",
            "-1~bpo12+1",
            "-1.1",
            "-1ubuntu1",
            "-10",
            "-1~",
        ],
    ));
    let mut wrong = Vec::new();
    for (a, b) in &cases {
        let ours = Scheme::Dpkg.compare(a, b).unwrap();
        let theirs = dpkg_says(a, b);
        if ours != theirs {
            wrong.push(format!("{a} vs {b}: berth {ours:?}, dpkg {theirs:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} disagree:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn rpm_agrees_with_rpm_vercmp() {
    if !tool_present("rpm") {
        return;
    }
    let mut cases: Vec<(String, String)> = super::rpm::tests::CASES
        .iter()
        .map(|(a, _, b)| (a.to_string(), b.to_string()))
        .collect();
    cases.extend(pairs(
        0x5eed_4e7b,
        &["", "", "", "0:", "1:", "2:"],
        &[
            ".0", ".1", ".10", ".01", "a", "b", "~", "~rc1", "^", "^git1", "_", "+", "p1", ".",
            "z", "A", ".el9",
        ],
        &[
            "", "", "-1", "-0", "-1.el9", "-2.el9_3", "-1~rc", "-1^post", "-10", "-1.fc40",
        ],
    ));
    // One rpm process for all pairs: a Lua script printing each result.
    let dir = std::env::temp_dir().join(format!("berth-rpmvercmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("pairs.lua");
    let mut lua = String::new();
    for (a, b) in &cases {
        assert!(!a.contains(['"', '\\', '%']) && !b.contains(['"', '\\', '%']));
        lua.push_str(&format!(
            "io.write(rpm.vercmp(\"{a}\", \"{b}\"), \"\\n\")\n"
        ));
    }
    std::fs::write(&script, lua).unwrap();
    let out = Command::new("rpm")
        .arg("--eval")
        .arg(format!("%{{lua: dofile(\"{}\")}}", script.display()))
        .output()
        .expect("run rpm");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "rpm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<i32> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(results.len(), cases.len());
    let mut wrong = Vec::new();
    for ((a, b), theirs) in cases.iter().zip(results) {
        let ours = Scheme::Rpm.compare(a, b).unwrap();
        if ours != theirs.cmp(&0) {
            wrong.push(format!("{a} vs {b}: berth {ours:?}, rpm {theirs}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} disagree:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
