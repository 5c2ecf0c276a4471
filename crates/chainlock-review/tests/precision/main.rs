//! The precision harness: every package of the release corpus (`../shared/corpus`, real
//! published artifacts beside their upstream source at the release tags), every artifact
//! compared with its tag, every release range scanned, and each flag held against its
//! reviewed judgement in `tests/data/precision-expectations.tsv`.
//!
//! It fails on a flag nobody has judged, on a judged flag that no longer fires, and on any
//! false high flag on a clean release. `CHAINLOCK_PRECISION_WRITE=1` rewrites the
//! expectations file with the flags seen (keeping judgements, new ones `unreviewed`);
//! `CHAINLOCK_PRECISION_TABLE=FILE` writes the per-package and per-rule table of
//! `docs/evidence-precision.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

mod corpus;
mod coverage;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chainlock_review::{compare, scan_range, Archive, Flag, Limits, RangeOptions, SourceTree};

use corpus::{corpus, expectations_path, Observation};

/// Every flag of every clean artifact and release range of the corpus.
fn observe() -> Vec<Observation> {
    let mut seen = Vec::new();
    for package in corpus() {
        for tag in &package.tags {
            for artifact in &tag.artifacts {
                let path = package.dir.join("artifacts").join(artifact);
                let archive = Archive::open(&path, None, &Limits::default())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let source = SourceTree::open(&package.repo(), &tag.commit).expect("source");
                let report = compare(&archive, &source).expect("compare");
                // Nothing differs in a clean release: what is not identical is expected or
                // build output, and build output is the grouped finding below.
                assert!(
                    report.differing.is_empty(),
                    "{} {artifact}: {:#?}",
                    package.name,
                    report.differing
                );
                seen.extend(
                    report.flags.iter().map(|f| {
                        Observation::of(&package.name, &format!("artifact:{artifact}"), f)
                    }),
                );
            }
        }
        for pair in package.tags.windows(2) {
            let (base, head) = (&pair[0], &pair[1]);
            let scan = scan_range(
                &package.repo(),
                Some(&base.commit),
                &head.commit,
                &RangeOptions::default(),
            )
            .expect("scan");
            assert!(
                scan.files_scanned > 0,
                "{} {}..{}",
                package.name,
                base.tag,
                head.tag
            );
            let subject = format!("range:{}..{}", base.tag, head.tag);
            seen.extend(
                scan.flags
                    .iter()
                    .map(|f: &Flag| Observation::of(&package.name, &subject, f)),
            );
        }
    }
    seen.sort();
    seen
}

#[test]
fn every_flag_on_the_corpus_is_judged_and_no_clean_release_has_a_false_high() {
    let seen = observe();
    let path = expectations_path();
    let judged = corpus::read_expectations(&path);
    if std::env::var_os("CHAINLOCK_PRECISION_WRITE").is_some() {
        corpus::write_expectations(&path, &seen, &judged);
    }
    let mut problems = String::new();
    for obs in &seen {
        match judged.get(&obs.key()) {
            None => {
                let _ = writeln!(problems, "not judged yet: {}", obs.tsv("unreviewed", ""));
            }
            Some((judgement, _)) if judgement == "unreviewed" => {
                let _ = writeln!(problems, "still unreviewed: {}", obs.tsv(judgement, ""));
            }
            Some((judgement, note)) if judgement == "false" && obs.severity == "high" => {
                let _ = writeln!(problems, "false HIGH flag: {}", obs.tsv(judgement, note));
            }
            Some((judgement, _)) => assert!(
                judgement == "true" || judgement == "false",
                "judgement must be true, false or unreviewed: {judgement:?}"
            ),
        }
    }
    let keys: std::collections::BTreeSet<_> = seen.iter().map(Observation::key).collect();
    for key in judged.keys() {
        if !keys.contains(key) {
            let _ = writeln!(
                problems,
                "judged but no longer raised (stale): {}",
                key.join("\t")
            );
        }
    }
    if let Some(table) = std::env::var_os("CHAINLOCK_PRECISION_TABLE") {
        std::fs::write(table, corpus::table(&seen, &judged)).expect("write table");
    }
    println!("{}", corpus::table(&seen, &judged));
    assert!(
        problems.is_empty(),
        "{problems}\nread the code each flag points at, then record its judgement in {} (CHAINLOCK_PRECISION_WRITE=1 adds the new ones as unreviewed)",
        path.display()
    );
}

#[test]
fn built_packages_get_one_finding_per_build_output_directory() {
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for package in corpus() {
        for tag in &package.tags {
            for artifact in &tag.artifacts {
                let archive = Archive::open(
                    &package.dir.join("artifacts").join(artifact),
                    None,
                    &Limits::default(),
                )
                .unwrap();
                let source = SourceTree::open(&package.repo(), &tag.commit).unwrap();
                let report = compare(&archive, &source).unwrap();
                for group in &report.build_output {
                    assert!(group.reproduced_by.is_empty());
                    let high: Vec<_> = report
                        .flags
                        .iter()
                        .filter(|f| f.severity == chainlock_review::Severity::High)
                        .filter(|f| group.files.contains(&f.file) || f.file == group.dir)
                        .collect();
                    assert_eq!(high.len(), 1, "{artifact} {}: {high:#?}", group.dir);
                    *groups.entry(package.name.clone()).or_default() += group.files.len();
                }
            }
        }
    }
    // p-queue's `tsc` output and mitt's bundles (and its generated index.d.ts) are the only
    // files of the corpus no source file matches.
    assert_eq!(
        groups.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["npm-mitt", "npm-p-queue"],
        "{groups:?}"
    );
}
