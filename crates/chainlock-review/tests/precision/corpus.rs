//! Reading the release corpus and the reviewed expectations file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chainlock_review::{Flag, Rule};

/// One package of the corpus: its folder and its tags, oldest first.
pub struct Package {
    /// `ECOSYSTEM-NAME`.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// The release tags.
    pub tags: Vec<Tag>,
}

impl Package {
    /// The bare upstream repository.
    pub fn repo(&self) -> PathBuf {
        self.dir.join("source.git")
    }
}

/// One release: its tag, commit and published files.
pub struct Tag {
    pub tag: String,
    pub commit: String,
    pub artifacts: Vec<String>,
}

/// `../shared/corpus` beside the checkout (CI puts shared/ there).
pub fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        dir.join("README.md").is_file(),
        "the release corpus is missing at {}: put the shared/ folder beside the repository (as CI does)",
        dir.display()
    );
    dir
}

/// Every package of the corpus, by name.
pub fn corpus() -> Vec<Package> {
    let dir = corpus_dir();
    let mut packages = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read corpus") {
        let path = entry.expect("entry").path();
        let meta = path.join("entry.json");
        if !meta.is_file() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&meta).expect("read entry.json"))
                .expect("entry.json is JSON");
        let tags = value["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| Tag {
                tag: t["tag"].as_str().expect("tag").to_owned(),
                commit: t["upstream_commit"].as_str().expect("commit").to_owned(),
                artifacts: t["artifacts"]
                    .as_array()
                    .expect("artifacts")
                    .iter()
                    .map(|a| a["file"].as_str().expect("file").to_owned())
                    .collect(),
            })
            .collect();
        packages.push(Package {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            dir: path,
            tags,
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        packages.len() >= 9,
        "corpus has {} packages",
        packages.len()
    );
    packages
}

/// One flag seen on the corpus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Observation {
    pub package: String,
    /// `artifact:FILE` or `range:BASE..HEAD`.
    pub subject: String,
    pub rule: String,
    pub severity: String,
    /// `file[:line]`.
    pub place: String,
}

impl Observation {
    pub fn of(package: &str, subject: &str, flag: &Flag) -> Self {
        Observation {
            package: package.to_owned(),
            subject: subject.to_owned(),
            rule: flag.rule.id().to_owned(),
            severity: flag.severity.as_str().to_owned(),
            place: match flag.line {
                Some(line) => format!("{}:{line}", flag.file),
                None => flag.file.clone(),
            },
        }
    }

    pub fn key(&self) -> Vec<String> {
        vec![
            self.package.clone(),
            self.subject.clone(),
            self.rule.clone(),
            self.severity.clone(),
            self.place.clone(),
        ]
    }

    pub fn tsv(&self, judgement: &str, note: &str) -> String {
        format!("{}\t{judgement}\t{note}", self.key().join("\t"))
    }
}

/// The reviewed expectations file.
pub fn expectations_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/precision-expectations.tsv")
}

/// Key (package, subject, rule, severity, place) to (judgement, note).
pub fn read_expectations(path: &Path) -> BTreeMap<Vec<String>, (String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert!(
            fields.len() >= 6,
            "{}:{}: expected package, subject, rule, severity, place, judgement[, note]",
            path.display(),
            n + 1
        );
        let key = fields[..5].iter().map(|s| (*s).to_owned()).collect();
        let note = fields.get(6).copied().unwrap_or("").to_owned();
        assert!(
            out.insert(key, (fields[5].to_owned(), note)).is_none(),
            "{}:{}: judged twice",
            path.display(),
            n + 1
        );
    }
    out
}

/// Rewrites the expectations file with `seen`, keeping the judgements already made.
pub fn write_expectations(
    path: &Path,
    seen: &[Observation],
    judged: &BTreeMap<Vec<String>, (String, String)>,
) {
    let mut out = String::from(
        "# Reviewed judgements of every flag the precision harness raises on ../shared/corpus.\n\
         # package\tsubject\trule\tseverity\tfile[:line]\tjudgement (true|false)\tnote\n",
    );
    let mut keys = BTreeSet::new();
    for obs in seen {
        if !keys.insert(obs.key()) {
            continue;
        }
        let (judgement, note) = judged
            .get(&obs.key())
            .cloned()
            .unwrap_or_else(|| ("unreviewed".to_owned(), String::new()));
        let _ = writeln!(out, "{}", obs.tsv(&judgement, &note));
    }
    std::fs::write(path, out).expect("write expectations");
}

/// The per-package and per-rule table of `docs/evidence-precision.md`.
pub fn table(seen: &[Observation], judged: &BTreeMap<Vec<String>, (String, String)>) -> String {
    #[derive(Default)]
    struct Count {
        high_true: usize,
        high_false: usize,
        medium_true: usize,
        medium_false: usize,
        low: usize,
    }
    let mut by_package: BTreeMap<&str, Count> = BTreeMap::new();
    let mut by_rule: BTreeMap<&str, Count> = BTreeMap::new();
    for package in corpus() {
        by_package
            .entry(Box::leak(package.name.into_boxed_str()))
            .or_default();
    }
    for rule in Rule::ALL {
        by_rule.entry(rule.id()).or_default();
    }
    for obs in seen {
        let truth = judged
            .get(&obs.key())
            .map_or("unreviewed", |(j, _)| j.as_str());
        for count in [
            by_package.entry(obs.package.as_str()).or_default(),
            by_rule.entry(obs.rule.as_str()).or_default(),
        ] {
            match (obs.severity.as_str(), truth) {
                ("high", "true") => count.high_true += 1,
                ("high", _) => count.high_false += 1,
                ("medium", "true") => count.medium_true += 1,
                ("medium", _) => count.medium_false += 1,
                _ => count.low += 1,
            }
        }
    }
    let mut out = String::new();
    // The medium flags of each release range: what a co-signer reads before signing it.
    let mut ranges: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for package in corpus() {
        for pair in package.tags.windows(2) {
            let subject = format!("range:{}..{}", pair[0].tag, pair[1].tag);
            ranges.entry((package.name.clone(), subject)).or_default();
        }
    }
    for obs in seen
        .iter()
        .filter(|o| o.severity == "medium" && o.subject.starts_with("range:"))
    {
        let truth = judged
            .get(&obs.key())
            .map_or("unreviewed", |(j, _)| j.as_str());
        let count = ranges
            .entry((obs.package.clone(), obs.subject.clone()))
            .or_default();
        if truth == "true" {
            count.0 += 1;
        } else {
            count.1 += 1;
        }
    }
    let _ = writeln!(
        out,
        "| package | release range | medium true | medium false |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for ((package, subject), (t, f)) in &ranges {
        let range = subject.trim_start_matches("range:");
        let _ = writeln!(out, "| {package} | `{range}` | {t} | {f} |");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| package | high true | high false | medium true | medium false | low |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
    for (name, c) in &by_package {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            c.high_true, c.high_false, c.medium_true, c.medium_false, c.low
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| rule | high true | high false | medium true | medium false | low |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
    for (rule, c) in &by_rule {
        let _ = writeln!(
            out,
            "| {rule} | {} | {} | {} | {} | {} |",
            c.high_true, c.high_false, c.medium_true, c.medium_false, c.low
        );
    }
    out
}
