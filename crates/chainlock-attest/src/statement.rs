//! The attestation payload: an in-toto Statement v1 with a SLSA Provenance v1 predicate.
//!
//! The build type ([`BUILD_TYPE`]) is ChainLock's own and is documented in
//! `crates/chainlock-attest/docs/rebuild-v1.md`: what its parameters mean, and how a builder
//! runs the build. A statement of any other build type is refused, because its parameters
//! would not mean what this crate reads them to mean.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::key::BuilderPublicKey;
use crate::{Error, Result};

/// Walks a JSON document and fails on the first object that repeats a key.
struct NoDuplicateKeys;

impl<'de> serde::de::DeserializeSeed<'de> for NoDuplicateKeys {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON without repeated object keys")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            map.next_value_seed(NoDuplicateKeys)?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicateKeys)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
}

/// in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA Provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// ChainLock's rebuild build type, version 1.
pub const BUILD_TYPE: &str =
    "https://github.com/chainlock/chainlock/blob/main/crates/chainlock-attest/docs/rebuild-v1.md";
/// Builder ids are this prefix followed by the builder's Ed25519 public key in lowercase hex.
pub const BUILDER_ID_PREFIX: &str = "urn:chainlock:builder:ed25519:";
/// The only variables a build sees (besides what its shell adds), as recorded in statements.
pub const BUILD_ENVIRONMENT: [&str; 5] = ["HOME", "LANG", "PATH", "SOURCE_DATE_EPOCH", "TZ"];

/// An in-toto Statement v1 whose predicate is SLSA Provenance v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts attested: exactly one for ChainLock.
    pub subject: Vec<Subject>,
    /// Always [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The provenance.
    pub predicate: Provenance,
}

/// An artifact and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's file name.
    pub name: String,
    /// Digests by algorithm; ChainLock requires `sha256`.
    pub digest: BTreeMap<String, String>,
}

/// SLSA Provenance v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// What was built, from what.
    #[serde(rename = "buildDefinition")]
    pub build_definition: BuildDefinition,
    /// Who built it.
    #[serde(rename = "runDetails")]
    pub run_details: RunDetails,
}

/// SLSA `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildDefinition {
    /// Always [`BUILD_TYPE`].
    #[serde(rename = "buildType")]
    pub build_type: String,
    /// The inputs a verifier must check.
    #[serde(rename = "externalParameters")]
    pub external_parameters: ExternalParameters,
    /// Inputs the builder derived itself.
    #[serde(
        rename = "internalParameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub internal_parameters: Option<InternalParameters>,
    /// The source checkout, pinned by commit.
    #[serde(rename = "resolvedDependencies")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// The build's external parameters (see `docs/rebuild-v1.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalParameters {
    /// The repository URL the source was cloned from.
    pub repository: String,
    /// The source commit id (lowercase hex).
    pub commit: String,
    /// The build command, run by `/bin/sh -c` at the root of the checkout.
    pub command: String,
    /// The glob, relative to the checkout, that matched the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

/// What the builder derived: the build's clock and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternalParameters {
    /// `SOURCE_DATE_EPOCH`: the commit's committer time.
    #[serde(rename = "sourceDateEpoch")]
    pub source_date_epoch: i64,
    /// The names of the environment variables the build was given.
    pub environment: Vec<String>,
}

/// An in-toto resource descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// Where it came from (`git+<repository URL>`).
    pub uri: String,
    /// Its digests; for a git checkout, `gitCommit`.
    pub digest: BTreeMap<String, String>,
}

/// SLSA `runDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDetails {
    /// The builder.
    pub builder: BuilderId,
}

/// SLSA `builder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderId {
    /// [`BUILDER_ID_PREFIX`] and the builder's public key.
    pub id: String,
}

/// What a checked statement says, in the terms the policy evaluation needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attested {
    /// The artifact's file name.
    pub artifact_name: String,
    /// The artifact's SHA-256, lowercase hex.
    pub artifact_sha256: String,
    /// The source repository URL.
    pub repository: String,
    /// The source commit id.
    pub commit: String,
    /// The build command.
    pub command: String,
    /// The builder key the statement names as its builder.
    #[serde(serialize_with = "ser_key")]
    pub builder: BuilderPublicKey,
}

fn ser_key<S: serde::Serializer>(
    key: &BuilderPublicKey,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&key.to_hex())
}

/// The parameters of one rebuild, as they go into a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildFacts {
    /// The repository URL.
    pub repository: String,
    /// The full commit id.
    pub commit: String,
    /// The build command.
    pub command: String,
    /// The artifact glob.
    pub artifact_glob: String,
    /// The artifact's file name.
    pub artifact_name: String,
    /// The artifact's SHA-256.
    pub artifact_sha256: [u8; 32],
    /// `SOURCE_DATE_EPOCH` given to the build.
    pub source_date_epoch: i64,
}

impl Statement {
    /// The statement a builder makes about one rebuild.
    pub fn for_rebuild(facts: &RebuildFacts, builder: &BuilderPublicKey) -> Self {
        let uri = if facts.repository.starts_with("git+") {
            facts.repository.clone()
        } else {
            format!("git+{}", facts.repository)
        };
        Statement {
            statement_type: STATEMENT_TYPE.to_string(),
            subject: vec![Subject {
                name: facts.artifact_name.clone(),
                digest: BTreeMap::from([(
                    "sha256".to_string(),
                    hex::encode(facts.artifact_sha256),
                )]),
            }],
            predicate_type: PREDICATE_TYPE.to_string(),
            predicate: Provenance {
                build_definition: BuildDefinition {
                    build_type: BUILD_TYPE.to_string(),
                    external_parameters: ExternalParameters {
                        repository: facts.repository.clone(),
                        commit: facts.commit.clone(),
                        command: facts.command.clone(),
                        artifact: Some(facts.artifact_glob.clone()),
                    },
                    internal_parameters: Some(InternalParameters {
                        source_date_epoch: facts.source_date_epoch,
                        environment: BUILD_ENVIRONMENT.iter().map(|s| s.to_string()).collect(),
                    }),
                    resolved_dependencies: vec![ResourceDescriptor {
                        uri,
                        digest: BTreeMap::from([("gitCommit".to_string(), facts.commit.clone())]),
                    }],
                },
                run_details: RunDetails {
                    builder: BuilderId {
                        id: format!("{BUILDER_ID_PREFIX}{}", builder.to_hex()),
                    },
                },
            },
        }
    }

    /// The payload bytes (compact JSON).
    pub fn to_payload(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Statement(e.to_string()))
    }

    /// Parses a payload as a statement (fields beyond those ChainLock reads are allowed, as
    /// in-toto statements are extensible; none of them is ever counted).
    /// Objects with a repeated key are refused anywhere in the payload: parsers disagree on
    /// which value wins, so one signature could mean two artifacts.
    pub fn from_payload(payload: &[u8]) -> Result<Self> {
        let mut strict = serde_json::Deserializer::from_slice(payload);
        serde::Deserializer::deserialize_any(&mut strict, NoDuplicateKeys)
            .and_then(|()| strict.end())
            .map_err(|e| Error::Statement(json_reason(payload, &e)))?;
        serde_json::from_slice(payload).map_err(|e| Error::Statement(json_reason(payload, &e)))
    }

    /// Checks the statement's shape and returns what it attests.
    pub fn check(&self) -> Result<Attested> {
        let bad = |reason: String| Err(Error::Statement(reason));
        if self.statement_type != STATEMENT_TYPE {
            return bad(format!(
                "_type is {:?}, not {STATEMENT_TYPE}",
                self.statement_type
            ));
        }
        if self.predicate_type != PREDICATE_TYPE {
            return bad(format!(
                "predicateType is {:?}, not {PREDICATE_TYPE}",
                self.predicate_type
            ));
        }
        let [subject] = self.subject.as_slice() else {
            return bad(format!(
                "expected exactly one subject (the artifact), found {}",
                self.subject.len()
            ));
        };
        if subject.name.is_empty() {
            return bad("the subject has no name".into());
        }
        // Names and URLs are printed to co-signers: no control characters (terminal escapes,
        // line breaks that forge report lines), and a name is a file name, not a path.
        if subject.name.contains('/') || subject.name.chars().any(char::is_control) {
            return bad(format!(
                "the subject name {:?} is not a plain file name (no `/`, no control characters)",
                subject.name
            ));
        }
        let repository = &self
            .predicate
            .build_definition
            .external_parameters
            .repository;
        if repository.chars().any(char::is_control) {
            return bad(format!(
                "the repository {repository:?} holds control characters"
            ));
        }
        let Some(sha) = subject.digest.get("sha256") else {
            return bad("the subject has no sha256 digest".into());
        };
        if !is_lower_hex(sha, &[64]) {
            return bad(format!(
                "the subject's sha256 {sha:?} is not 64 lowercase hex digits"
            ));
        }
        let def = &self.predicate.build_definition;
        if def.build_type != BUILD_TYPE {
            return bad(format!(
                "buildType is {:?}, not ChainLock's {BUILD_TYPE}",
                def.build_type
            ));
        }
        let params = &def.external_parameters;
        if !is_lower_hex(&params.commit, &[40, 64]) {
            return bad(format!(
                "the commit {:?} is not a full lowercase hex commit id",
                params.commit
            ));
        }
        let commits: Vec<Option<&String>> = def
            .resolved_dependencies
            .iter()
            .map(|d| d.digest.get("gitCommit"))
            .collect();
        if commits.is_empty() || commits.iter().any(|c| *c != Some(&params.commit)) {
            return bad(format!(
                "resolvedDependencies must pin the source to gitCommit {} (and nothing else)",
                params.commit
            ));
        }
        let id = &self.predicate.run_details.builder.id;
        let Some(key_hex) = id.strip_prefix(BUILDER_ID_PREFIX) else {
            return bad(format!(
                "builder id {id:?} does not start with {BUILDER_ID_PREFIX}"
            ));
        };
        let builder = BuilderPublicKey::from_hex("in the builder id", key_hex)?;
        Ok(Attested {
            artifact_name: subject.name.clone(),
            artifact_sha256: sha.clone(),
            repository: params.repository.clone(),
            commit: params.commit.clone(),
            command: params.command.clone(),
            builder,
        })
    }
}

pub(crate) use chainlock_protocol::hash::is_lower_hex;
use chainlock_protocol::text::json_reason;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use crate::key::BuilderKey;

    pub(crate) fn facts() -> RebuildFacts {
        RebuildFacts {
            repository: "file:///srv/pkg.git".into(),
            commit: "a".repeat(40),
            command: "npm pack".into(),
            artifact_glob: "*.tgz".into(),
            artifact_name: "pkg-1.0.0.tgz".into(),
            artifact_sha256: [0xab; 32],
            source_date_epoch: 1_700_000_000,
        }
    }

    #[test]
    fn round_trip_and_shape() {
        let key = BuilderKey::from_seed(&[1; 32]).public_key();
        let st = Statement::for_rebuild(&facts(), &key);
        let payload = st.to_payload().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(v["_type"], STATEMENT_TYPE);
        assert_eq!(v["subject"][0]["digest"]["sha256"], "ab".repeat(32));
        assert_eq!(
            v["predicate"]["buildDefinition"]["externalParameters"]["command"],
            "npm pack"
        );
        assert_eq!(
            v["predicate"]["buildDefinition"]["resolvedDependencies"][0]["uri"],
            "git+file:///srv/pkg.git"
        );
        assert_eq!(
            v["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"],
            "a".repeat(40)
        );
        assert_eq!(
            v["predicate"]["runDetails"]["builder"]["id"],
            format!("{BUILDER_ID_PREFIX}{}", key.to_hex())
        );
        let back = Statement::from_payload(&payload).unwrap();
        assert_eq!(back, st);
        let attested = back.check().unwrap();
        assert_eq!(attested.artifact_sha256, "ab".repeat(32));
        assert_eq!(attested.builder, key);
        assert_eq!(attested.commit, "a".repeat(40));
    }

    #[test]
    fn check_refuses_what_it_cannot_read() {
        let key = BuilderKey::from_seed(&[1; 32]).public_key();
        let good = Statement::for_rebuild(&facts(), &key);
        let mut cases: Vec<(&str, Statement)> = Vec::new();
        let mut s = good.clone();
        s.statement_type = "https://in-toto.io/Statement/v0.1".into();
        cases.push(("_type", s));
        let mut s = good.clone();
        s.predicate_type = "https://slsa.dev/provenance/v0.2".into();
        cases.push(("predicateType", s));
        let mut s = good.clone();
        s.subject.push(s.subject[0].clone());
        cases.push(("exactly one subject", s));
        let mut s = good.clone();
        s.subject[0].digest = BTreeMap::from([("sha512".to_string(), "00".repeat(64))]);
        cases.push(("no sha256", s));
        let mut s = good.clone();
        s.subject[0].digest.insert("sha256".into(), "AB".repeat(32));
        cases.push(("lowercase", s));
        let mut s = good.clone();
        s.subject[0].name = "pkg.tgz\u{1b}[1A\r  valid".into();
        cases.push(("not a plain file name", s));
        let mut s = good.clone();
        s.subject[0].name = "../pkg.tgz".into();
        cases.push(("not a plain file name", s));
        let mut s = good.clone();
        s.predicate
            .build_definition
            .external_parameters
            .repository
            .push('\n');
        cases.push(("control characters", s));
        let mut s = good.clone();
        s.predicate.build_definition.build_type = "https://example.com/other".into();
        cases.push(("buildType", s));
        let mut s = good.clone();
        s.predicate.build_definition.external_parameters.commit = "abc".into();
        cases.push(("commit", s));
        let mut s = good.clone();
        s.predicate.build_definition.resolved_dependencies[0]
            .digest
            .insert("gitCommit".into(), "b".repeat(40));
        cases.push(("resolvedDependencies", s));
        let mut s = good.clone();
        s.predicate.build_definition.resolved_dependencies.clear();
        cases.push(("resolvedDependencies", s));
        let mut s = good.clone();
        s.predicate.run_details.builder.id = "https://example.com/builder".into();
        cases.push(("builder id", s));
        for (what, s) in cases {
            let err = s.check().unwrap_err().to_string();
            assert!(err.contains(what), "{what}: {err}");
        }
        assert!(Statement::from_payload(b"{}").is_err());
        // A repeated key, here the artifact's digest: refused, whichever value would win.
        let payload = String::from_utf8(good.to_payload().unwrap()).unwrap();
        let sha = good.subject[0].digest["sha256"].clone();
        let twice = payload.replacen(
            &format!("\"sha256\":\"{sha}\""),
            &format!("\"sha256\":\"{}\",\"sha256\":\"{sha}\"", "b".repeat(64)),
            1,
        );
        assert_ne!(twice, payload);
        let err = Statement::from_payload(twice.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        Statement::from_payload(payload.as_bytes()).unwrap();
        assert!(Statement::from_payload(b"\xff").is_err());
    }
}
