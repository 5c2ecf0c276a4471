//! The coordination remote (PROTOCOL.md section 8), mirrored in a local bare repository.
//!
//! Every object is a commit whose tree holds one or two small files, under a ref of
//! `refs/chainlock/`. `fetch` brings the remote's refs into the mirror (verification happens
//! above, in `view`); a write creates the commit in the mirror under an *outbox* ref
//! (`refs/chainlock-outbox/...`) and pushes it to the same name under `refs/chainlock/`. A push
//! that fails (the remote gone, a lost race) leaves the object in the outbox and says so:
//! the next sync pushes it again. Nothing half-written reaches the remote: git updates a ref
//! only once its objects have arrived.
//!
//! Credentials are the user's own: the SSH agent, git's credential helpers, and anonymous
//! `file://` and `git://`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{Cred, CredentialType, FetchOptions, PushOptions, RemoteCallbacks, Repository};

use crate::{Error, Result};

/// The namespace of coordination refs.
pub const NAMESPACE: &str = "refs/chainlock/";
/// Where objects wait until the remote has them.
pub const OUTBOX: &str = "refs/chainlock-outbox/";
/// The largest file read from a coordination object (a request with its attestations).
pub const MAX_OBJECT_FILE: usize = 8 << 20;
/// How many times a push is retried after the remote refused to lock a ref (another push
/// was updating the refs at the same moment).
const PUSH_ATTEMPTS: u32 = 5;

/// The local mirror of one coordination remote.
pub struct Coord {
    repo: Repository,
    remote_url: String,
    path: PathBuf,
}

/// What a fetch changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Refs that are new or moved.
    pub updated: usize,
    /// Objects received.
    pub objects: usize,
}

impl Coord {
    /// Opens (creating it if needed) the mirror at `dir` for `remote_url`.
    pub fn open(dir: &Path, remote_url: &str) -> Result<Self> {
        let repo = match Repository::open_bare(dir) {
            Ok(r) => r,
            Err(_) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io("cannot create directory", dir, e))?;
                Repository::init_bare(dir)
                    .map_err(|e| Error::git(format!("create mirror {}", dir.display()), &e))?
            }
        };
        Ok(Coord {
            repo,
            remote_url: remote_url.to_string(),
            path: dir.to_path_buf(),
        })
    }

    /// The remote's URL.
    pub fn remote_url(&self) -> &str {
        &self.remote_url
    }

    /// The mirror's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fetches every coordination ref from the remote (refs deleted there are pruned here),
    /// then pushes what waits in the outbox.
    pub fn sync(&self) -> Result<Fetched> {
        let fetched = self.fetch()?;
        self.push_outbox()?;
        Ok(fetched)
    }

    /// Fetches `refs/chainlock/*` from the remote.
    pub fn fetch(&self) -> Result<Fetched> {
        let mut remote = self
            .repo
            .remote_anonymous(&self.remote_url)
            .map_err(|e| Error::git(format!("open remote {}", self.remote_url), &e))?;
        let updated = std::cell::Cell::new(0usize);
        let mut callbacks = callbacks(&self.repo);
        callbacks.update_tips(|_, _, _| {
            updated.set(updated.get() + 1);
            true
        });
        let mut options = FetchOptions::new();
        options.remote_callbacks(callbacks);
        options.prune(git2::FetchPrune::On);
        options.download_tags(git2::AutotagOption::None);
        remote
            .fetch(
                &["+refs/chainlock/*:refs/chainlock/*"],
                Some(&mut options),
                None,
            )
            .map_err(|e| {
                Error::git(
                    format!(
                        "fetch coordination refs from {} (check the URL and your access; \
                         then run `chainlock sync` again)",
                        self.remote_url
                    ),
                    &e,
                )
            })?;
        drop(options);
        let objects = remote.stats().received_objects();
        Ok(Fetched {
            updated: updated.get(),
            objects,
        })
    }

    /// Every coordination ref in the mirror, with the commit it names.
    pub fn refs(&self) -> Result<Vec<(String, git2::Oid)>> {
        self.refs_under(NAMESPACE)
    }

    /// Refs waiting in the outbox, named as they will be on the remote.
    pub fn outbox(&self) -> Result<Vec<String>> {
        Ok(self
            .refs_under(OUTBOX)?
            .into_iter()
            .map(|(name, _)| format!("{NAMESPACE}{}", &name[OUTBOX.len()..]))
            .collect())
    }

    fn refs_under(&self, prefix: &str) -> Result<Vec<(String, git2::Oid)>> {
        let mut out = Vec::new();
        let refs = self
            .repo
            .references_glob(&format!("{prefix}*"))
            .map_err(|e| Error::git("list refs", &e))?;
        for r in refs {
            let r = r.map_err(|e| Error::git("read ref", &e))?;
            let (Ok(name), Some(oid)) = (r.name(), r.target()) else {
                continue;
            };
            out.push((name.to_string(), oid));
        }
        out.sort();
        Ok(out)
    }

    /// Reads file `name` from the tree of commit `oid`, refusing files over `max` bytes.
    pub fn read_file(&self, oid: git2::Oid, name: &str) -> std::result::Result<Vec<u8>, String> {
        let commit = self
            .repo
            .find_commit(oid)
            .map_err(|e| format!("not a commit: {}", e.message()))?;
        let tree = commit
            .tree()
            .map_err(|e| format!("no tree: {}", e.message()))?;
        let entry = tree
            .get_name(name)
            .ok_or_else(|| format!("its commit holds no {name}"))?;
        let blob = entry
            .to_object(&self.repo)
            .and_then(|o| o.peel_to_blob())
            .map_err(|e| format!("{name} is not a file: {}", e.message()))?;
        if blob.size() > MAX_OBJECT_FILE {
            return Err(format!(
                "{name} is {} bytes, over the {} MiB limit",
                blob.size(),
                MAX_OBJECT_FILE >> 20
            ));
        }
        Ok(blob.content().to_vec())
    }

    /// Creates an object (a commit holding `files`) for `refname` under the outbox, then
    /// pushes it. When the push fails the object stays in the outbox and the error says so.
    pub fn publish(&self, refname: &str, files: &[(&str, &[u8])], message: &str) -> Result<()> {
        self.publish_commit(refname, None, files, message)
    }

    /// Publishes `files` as a commit whose parent is `parent`, the commit `refname` names
    /// now: the push is a fast-forward, so the remote keeps the earlier commit in the ref's
    /// history (a record ref gaining `proof.beef` once its transaction is mined).
    pub fn publish_on(
        &self,
        refname: &str,
        parent: git2::Oid,
        files: &[(&str, &[u8])],
        message: &str,
    ) -> Result<()> {
        self.publish_commit(refname, Some(parent), files, message)
    }

    fn publish_commit(
        &self,
        refname: &str,
        parent: Option<git2::Oid>,
        files: &[(&str, &[u8])],
        message: &str,
    ) -> Result<()> {
        let suffix = refname
            .strip_prefix(NAMESPACE)
            .ok_or_else(|| Error::Refused(format!("{refname} is not a coordination ref")))?;
        let mut builder = self
            .repo
            .treebuilder(None)
            .map_err(|e| Error::git("build tree", &e))?;
        for (name, bytes) in files {
            let blob = self
                .repo
                .blob(bytes)
                .map_err(|e| Error::git("write blob", &e))?;
            builder
                .insert(name, blob, 0o100644)
                .map_err(|e| Error::git("build tree", &e))?;
        }
        let tree_id = builder.write().map_err(|e| Error::git("write tree", &e))?;
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(|e| Error::git("read tree", &e))?;
        let parent = parent
            .map(|oid| self.repo.find_commit(oid))
            .transpose()
            .map_err(|e| Error::git(format!("read {refname}"), &e))?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        // A fixed identity and time: the object's content is what counts, and the same
        // statement published twice is the same commit.
        let sig = git2::Signature::new("chainlock", "chainlock@localhost", &git2::Time::new(0, 0))
            .map_err(|e| Error::git("make signature", &e))?;
        let commit = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .map_err(|e| Error::git("write commit", &e))?;
        let outbox = format!("{OUTBOX}{suffix}");
        self.repo
            .reference(&outbox, commit, true, "chainlock: queued for the remote")
            .map_err(|e| Error::git(format!("queue {refname}"), &e))?;
        self.push_one(&outbox, refname)
    }

    /// Pushes every object waiting in the outbox.
    pub fn push_outbox(&self) -> Result<usize> {
        let waiting = self.refs_under(OUTBOX)?;
        for (outbox, _) in &waiting {
            let target = format!("{NAMESPACE}{}", &outbox[OUTBOX.len()..]);
            self.push_one(outbox, &target)?;
        }
        Ok(waiting.len())
    }

    fn push_one(&self, outbox: &str, refname: &str) -> Result<()> {
        let oid = self
            .repo
            .refname_to_id(outbox)
            .map_err(|e| Error::git(format!("read {outbox}"), &e))?;
        let mut last = String::new();
        for attempt in 0..PUSH_ATTEMPTS {
            match self.push_attempt(outbox, refname) {
                Ok(()) => {
                    self.repo
                        .reference(refname, oid, true, "chainlock: pushed")
                        .map_err(|e| Error::git(format!("record {refname}"), &e))?;
                    if let Ok(mut r) = self.repo.find_reference(outbox) {
                        let _ = r.delete();
                    }
                    return Ok(());
                }
                Err(PushFailure::Rejected(reason)) => {
                    // Someone else wrote this ref: if it holds the same object, we are done.
                    let _ = self.fetch();
                    if self.repo.refname_to_id(refname).ok() == Some(oid) {
                        if let Ok(mut r) = self.repo.find_reference(outbox) {
                            let _ = r.delete();
                        }
                        return Ok(());
                    }
                    if reason.contains("lock") && attempt + 1 < PUSH_ATTEMPTS {
                        last = reason;
                        std::thread::sleep(Duration::from_millis(100 << attempt));
                        continue;
                    }
                    return Err(Error::Refused(format!(
                        "the remote {} refused {refname}: {reason}; it holds another object \
                         under that name (run `chainlock sync` and look at it)",
                        self.remote_url
                    )));
                }
                Err(PushFailure::Transport(message)) => {
                    return Err(Error::Git {
                        action: format!(
                            "push {refname} to {} (kept locally, nothing was lost: run \
                             `chainlock sync` to push it again when the remote is back)",
                            self.remote_url
                        ),
                        message,
                    })
                }
            }
        }
        Err(Error::Refused(format!(
            "the remote {} stayed busy pushing {refname} ({last}); run `chainlock sync` to retry",
            self.remote_url
        )))
    }

    fn push_attempt(&self, outbox: &str, refname: &str) -> std::result::Result<(), PushFailure> {
        let mut remote = self
            .repo
            .remote_anonymous(&self.remote_url)
            .map_err(|e| PushFailure::Transport(e.message().to_string()))?;
        let mut rejected: Option<String> = None;
        let mut callbacks = callbacks(&self.repo);
        callbacks.push_update_reference(|_, status| {
            if let Some(s) = status {
                rejected = Some(s.to_string());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        // Never forced: a ref that exists on the remote is never replaced.
        let spec = format!("{outbox}:{refname}");
        let pushed = remote.push(&[spec.as_str()], Some(&mut options));
        drop(options);
        match (pushed, rejected) {
            (Err(e), _) => {
                let message = e.message().to_string();
                if message.contains("lock") || message.contains("non-fast-forward") {
                    Err(PushFailure::Rejected(message))
                } else {
                    Err(PushFailure::Transport(message))
                }
            }
            (Ok(()), Some(reason)) => Err(PushFailure::Rejected(reason)),
            (Ok(()), None) => Ok(()),
        }
    }
}

enum PushFailure {
    /// The remote answered and refused the ref.
    Rejected(String),
    /// The remote could not be reached or the connection broke.
    Transport(String),
}

/// Credentials as git itself would find them: the SSH agent, then credential helpers, then
/// the default (Kerberos/NTLM); each tried once so a wrong one cannot loop.
fn callbacks(repo: &Repository) -> RemoteCallbacks<'static> {
    let config = repo.config().ok();
    let mut tried = CredentialType::empty();
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
        if allowed.contains(CredentialType::SSH_KEY) && !tried.contains(CredentialType::SSH_KEY) {
            tried |= CredentialType::SSH_KEY;
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && !tried.contains(CredentialType::USER_PASS_PLAINTEXT)
        {
            tried |= CredentialType::USER_PASS_PLAINTEXT;
            if let Some(config) = &config {
                return Cred::credential_helper(config, url, username);
            }
        }
        if allowed.contains(CredentialType::DEFAULT) && !tried.contains(CredentialType::DEFAULT) {
            tried |= CredentialType::DEFAULT;
            return Cred::default();
        }
        Err(git2::Error::from_str(&format!(
            "no credentials for {url} worked: set up your SSH agent or git credential helper \
             as you would for `git push`"
        )))
    });
    callbacks
}
