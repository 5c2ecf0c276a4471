//! The input checker: judges whether an input's unlocking script spends its output, as the
//! BSV node would (post-Genesis, with the standard script flags), for the two templates the
//! protocol spends: P2PKH (top-ups) and custody bare multisig (records).
//!
//! Rules applied, with the node's flag names: SIGPUSHONLY (the unlocking script only
//! pushes), MINIMALDATA (every push uses its smallest encoding), CLEANSTACK (exactly the
//! expected pushes), DERSIG and STRICTENC (strict DER, a defined sighash type, well-formed
//! public keys), LOW_S, ENABLE_SIGHASH_FORKID (the FORKID bit is required), NULLDUMMY (the
//! CHECKMULTISIG dummy is empty), NULLFAIL (a signature that fails must be empty), and
//! CHECKMULTISIG's pairing of signatures with keys in key order.
//!
//! The node accepts every defined FORKID sighash type; the protocol signs with `ALL|FORKID`
//! only. That narrower rule belongs to the record-level checks, so the checker reports each
//! signature's sighash type in the verdict instead of refusing it here.
//!
//! This module never signs and never trusts a digest from outside: every sighash is
//! computed from the transaction and the spent output.

use std::collections::HashMap;
use std::fmt;

use crate::hash::hash160;
use crate::keys::{is_low_s, parse_der_strict, verify_prehash, PublicKey};
use crate::script::{is_minimal_push, op, Custody, Instruction, PubKeyBytes, Script};
use crate::sighash::{sighash_forkid_with, SighashParts, SIGHASH_ANYONECANPAY, SIGHASH_FORKID};
use crate::tx::{SpentOutput, Transaction};

/// The locking-script template of the output an input spends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// `OP_DUP OP_HASH160 <hash> OP_EQUALVERIFY OP_CHECKSIG`.
    P2pkh {
        /// The public key hash the script commits to.
        pubkey_hash: [u8; 20],
    },
    /// The protocol's custody multisig, `OP_m <keys in byte order> OP_n OP_CHECKMULTISIG`.
    Custody(Custody),
    /// Any other script: the checker does not judge it.
    Unknown,
}

impl Template {
    /// Recognises the template of a locking script.
    pub fn of(script: &Script) -> Template {
        if let Ok(pubkey_hash) = script.parse_p2pkh() {
            Template::P2pkh { pubkey_hash }
        } else if let Ok(custody) = script.parse_custody() {
            Template::Custody(custody)
        } else {
            Template::Unknown
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Template::P2pkh { .. } => f.write_str("P2PKH"),
            Template::Custody(c) => write!(f, "custody {}-of-{}", c.threshold, c.keys.len()),
            Template::Unknown => f.write_str("unknown"),
        }
    }
}

/// A signature the checker accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedSignature {
    /// The key it verified against.
    pub key: PublicKey,
    /// Its sighash type byte (the protocol requires 0x41; the node accepts any defined
    /// FORKID type).
    pub sighash_type: u8,
}

/// Why an input does not spend its output. `push` fields are 1-based positions in the
/// unlocking script.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The transaction has no such input.
    NoSuchInput {
        /// How many inputs it has.
        inputs: usize,
    },
    /// The spent output is neither P2PKH nor a custody multisig.
    UnknownTemplate,
    /// The unlocking script ends inside a push.
    MalformedScript {
        /// The decoder's explanation.
        detail: String,
    },
    /// The unlocking script holds an opcode that is not a push (SIGPUSHONLY).
    NotPushOnly {
        /// The offending opcode.
        opcode: u8,
    },
    /// A push that does not use its smallest encoding (MINIMALDATA).
    NonMinimalPush {
        /// Which push.
        push: usize,
    },
    /// The unlocking script pushes the wrong number of items (stack underflow, or CLEANSTACK).
    WrongPushCount {
        /// How many the template needs.
        expected: usize,
        /// How many there are.
        got: usize,
    },
    /// A signature that is not strict DER followed by a sighash byte (DERSIG).
    SignatureEncoding {
        /// Which push.
        push: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// A signature with a high S value (LOW_S).
    HighS {
        /// Which push.
        push: usize,
    },
    /// A sighash type with no defined meaning (STRICTENC).
    UndefinedSighashType {
        /// Which push.
        push: usize,
        /// The sighash byte.
        sighash_type: u8,
    },
    /// A sighash type without the FORKID bit, which BSV requires.
    MissingForkId {
        /// Which push.
        push: usize,
        /// The sighash byte.
        sighash_type: u8,
    },
    /// The public key pushed for P2PKH is not a compressed or uncompressed SEC1 key (STRICTENC).
    PublicKeyEncoding {
        /// What is wrong with it.
        detail: String,
    },
    /// The public key pushed for P2PKH does not hash to the script's public key hash.
    PublicKeyHashMismatch,
    /// A signature that does not verify, or signatures that cannot be paired with the keys
    /// in key order (NULLFAIL: a signature that fails must be empty).
    SignatureFailed {
        /// Which push.
        push: usize,
        /// What failed.
        detail: String,
    },
    /// Signatures left empty, so fewer than required verify.
    MissingSignatures {
        /// How many are required.
        required: usize,
    },
    /// The CHECKMULTISIG dummy is not empty (NULLDUMMY).
    NonNullDummy,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoSuchInput { inputs } => write!(f, "no such input: the transaction has {inputs}"),
            Reason::UnknownTemplate => {
                f.write_str("the spent output is neither P2PKH nor a custody multisig; this checker judges only those")
            }
            Reason::MalformedScript { detail } => write!(f, "unlocking script is malformed: {detail}"),
            Reason::NotPushOnly { opcode } => {
                write!(f, "unlocking script is not push-only: it holds opcode 0x{opcode:02x}")
            }
            Reason::NonMinimalPush { push } => {
                write!(f, "push {push} of the unlocking script is not the minimal encoding of its data")
            }
            Reason::WrongPushCount { expected, got } => {
                write!(f, "unlocking script pushes {got} items; the template needs exactly {expected}")
            }
            Reason::SignatureEncoding { push, detail } => write!(f, "signature in push {push}: {detail}"),
            Reason::HighS { push } => write!(f, "signature in push {push} has a high S value (the node requires low S)"),
            Reason::UndefinedSighashType { push, sighash_type } => {
                write!(f, "signature in push {push} has undefined sighash type 0x{sighash_type:02x}")
            }
            Reason::MissingForkId { push, sighash_type } => {
                write!(f, "signature in push {push} has sighash type 0x{sighash_type:02x} without FORKID (0x40), which BSV requires")
            }
            Reason::PublicKeyEncoding { detail } => write!(f, "public key: {detail}"),
            Reason::PublicKeyHashMismatch => f.write_str("the public key does not hash to the P2PKH public key hash"),
            Reason::SignatureFailed { push, detail } => write!(f, "signature in push {push} fails: {detail}"),
            Reason::MissingSignatures { required } => {
                write!(f, "signatures are empty: {required} valid signatures are required")
            }
            Reason::NonNullDummy => f.write_str("the CHECKMULTISIG dummy (first push) must be empty (OP_0)"),
        }
    }
}

/// Valid, with the signatures accepted, or invalid, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The input spends its output.
    Valid {
        /// The signatures that verified, in script order.
        signatures: Vec<AcceptedSignature>,
    },
    /// The input does not spend its output.
    Invalid(Reason),
}

/// The checker's judgement of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputVerdict {
    /// The input judged.
    pub input_index: usize,
    /// The template of the output it spends.
    pub template: Template,
    /// Valid or invalid, and why.
    pub outcome: Outcome,
}

impl InputVerdict {
    /// True if the input spends its output.
    pub fn is_valid(&self) -> bool {
        matches!(self.outcome, Outcome::Valid { .. })
    }

    /// Why the input is invalid, if it is.
    pub fn reason(&self) -> Option<&Reason> {
        match &self.outcome {
            Outcome::Invalid(r) => Some(r),
            Outcome::Valid { .. } => None,
        }
    }

    /// The accepted signatures (empty when invalid).
    pub fn signatures(&self) -> &[AcceptedSignature] {
        match &self.outcome {
            Outcome::Valid { signatures } => signatures,
            Outcome::Invalid(_) => &[],
        }
    }
}

/// Judges input `input_index` of `tx`, which spends `spent`, as the BSV node would.
pub fn check_input(tx: &Transaction, input_index: usize, spent: &SpentOutput) -> InputVerdict {
    check_input_with(tx, &SighashParts::new(tx), input_index, spent)
}

/// Judges every input; `spent` must list the spent outputs in input order. The
/// transaction-wide sighash parts are hashed once, so this is linear in the transaction.
pub fn check_inputs(tx: &Transaction, spent: &[SpentOutput]) -> Vec<InputVerdict> {
    let parts = SighashParts::new(tx);
    spent
        .iter()
        .enumerate()
        .map(|(i, s)| check_input_with(tx, &parts, i, s))
        .collect()
}

fn check_input_with(
    tx: &Transaction,
    parts: &SighashParts,
    input_index: usize,
    spent: &SpentOutput,
) -> InputVerdict {
    let template = Template::of(&spent.script_pubkey);
    let outcome = match judge(tx, parts, input_index, spent, &template) {
        Ok(signatures) => Outcome::Valid { signatures },
        Err(reason) => Outcome::Invalid(reason),
    };
    InputVerdict {
        input_index,
        template,
        outcome,
    }
}

fn judge(
    tx: &Transaction,
    parts: &SighashParts,
    input_index: usize,
    spent: &SpentOutput,
    template: &Template,
) -> Result<Vec<AcceptedSignature>, Reason> {
    let input = tx.inputs.get(input_index).ok_or(Reason::NoSuchInput {
        inputs: tx.inputs.len(),
    })?;
    if *template == Template::Unknown {
        return Err(Reason::UnknownTemplate);
    }
    let items = unlocking_items(&input.script_sig)?;
    let mut sighasher = Sighasher {
        tx,
        parts,
        input_index,
        spent,
        cache: HashMap::new(),
    };
    match template {
        Template::P2pkh { pubkey_hash } => check_p2pkh(&items, pubkey_hash, &mut sighasher),
        Template::Custody(custody) => check_custody(&items, custody, &mut sighasher),
        Template::Unknown => Err(Reason::UnknownTemplate),
    }
}

/// The items an unlocking script leaves on the stack, enforcing SIGPUSHONLY and MINIMALDATA.
fn unlocking_items(script: &Script) -> Result<Vec<Vec<u8>>, Reason> {
    let bytes = script.as_bytes();
    let mut items = Vec::new();
    let mut offset = 0usize;
    for (i, ins) in script.instructions().enumerate() {
        let push = i + 1;
        let ins = ins.map_err(|e| Reason::MalformedScript {
            detail: e.to_string(),
        })?;
        let opcode = bytes.get(offset).copied().unwrap_or_default();
        match ins {
            Instruction::Push(data) => {
                let header = match opcode {
                    op::OP_PUSHDATA1 => 2,
                    op::OP_PUSHDATA2 => 3,
                    op::OP_PUSHDATA4 => 5,
                    _ => 1,
                };
                let end = offset + header + data.len();
                let encoded = bytes.get(offset..end).unwrap_or_default();
                if !is_minimal_push(data, encoded) {
                    return Err(Reason::NonMinimalPush { push });
                }
                items.push(data.to_vec());
                offset = end;
            }
            Instruction::Op(o) => {
                // OP_1NEGATE and OP_1..OP_16 push numbers; every other opcode (OP_RESERVED,
                // which the node's IsPushOnly lets through, fails on execution) is refused.
                let item = match o {
                    op::OP_1NEGATE => vec![0x81],
                    op::OP_1..=op::OP_16 => vec![o - op::OP_1 + 1],
                    other => return Err(Reason::NotPushOnly { opcode: other }),
                };
                items.push(item);
                offset += 1;
            }
        }
    }
    Ok(items)
}

/// Computes (and remembers) the FORKID sighash per sighash type.
struct Sighasher<'a> {
    tx: &'a Transaction,
    parts: &'a SighashParts,
    input_index: usize,
    spent: &'a SpentOutput,
    cache: HashMap<u8, [u8; 32]>,
}

impl Sighasher<'_> {
    fn digest(&mut self, sighash_type: u8, push: usize) -> Result<[u8; 32], Reason> {
        if let Some(d) = self.cache.get(&sighash_type) {
            return Ok(*d);
        }
        let d = sighash_forkid_with(
            self.tx,
            self.parts,
            self.input_index,
            &self.spent.script_pubkey,
            self.spent.value,
            u32::from(sighash_type),
        )
        .map_err(|e| Reason::SignatureFailed {
            push,
            detail: e.to_string(),
        })?;
        self.cache.insert(sighash_type, d);
        Ok(d)
    }
}

/// A signature that passed the encoding rules (the node's CheckSignatureEncoding).
struct EncodedSig {
    sig: k256::ecdsa::Signature,
    sighash_type: u8,
}

/// The node's CheckSignatureEncoding under DERSIG, LOW_S, STRICTENC and FORKID. `None` for
/// the empty signature, which is well encoded and simply fails.
fn check_sig_encoding(item: &[u8], push: usize) -> Result<Option<EncodedSig>, Reason> {
    let Some((&sighash_type, der)) = item.split_last() else {
        return Ok(None);
    };
    let sig = parse_der_strict(der).map_err(|e| Reason::SignatureEncoding {
        push,
        detail: e.to_string(),
    })?;
    if !is_low_s(&sig) {
        return Err(Reason::HighS { push });
    }
    let base = u32::from(sighash_type) & !(SIGHASH_ANYONECANPAY | SIGHASH_FORKID);
    if !(1..=3).contains(&base) {
        return Err(Reason::UndefinedSighashType { push, sighash_type });
    }
    if u32::from(sighash_type) & SIGHASH_FORKID == 0 {
        return Err(Reason::MissingForkId { push, sighash_type });
    }
    Ok(Some(EncodedSig { sig, sighash_type }))
}

fn verifies(key: &PubKeyBytes, sig: &EncodedSig, digest: &[u8; 32]) -> Option<PublicKey> {
    let pk = PublicKey::from_bytes(key).ok()?;
    verify_prehash(&pk, digest, &sig.sig).ok().map(|()| pk)
}

fn check_p2pkh(
    items: &[Vec<u8>],
    pubkey_hash: &[u8; 20],
    sighasher: &mut Sighasher<'_>,
) -> Result<Vec<AcceptedSignature>, Reason> {
    // The node's evaluation: the locking script works on the top two items, and CLEANSTACK
    // then requires nothing else was pushed.
    let [.., sig_item, key_item] = items else {
        return Err(Reason::WrongPushCount {
            expected: 2,
            got: items.len(),
        });
    };
    let sig_push = items.len() - 1;
    if hash160(key_item) != *pubkey_hash {
        return Err(Reason::PublicKeyHashMismatch);
    }
    let encoded = check_sig_encoding(sig_item, sig_push)?;
    let key = match key_item.first() {
        Some(0x02 | 0x03) if key_item.len() == 33 => {
            PublicKey::from_bytes(key_item).map_err(|e| Reason::PublicKeyEncoding {
                detail: e.to_string(),
            })?
        }
        Some(0x04) if key_item.len() == 65 => {
            // Valid on chain, but no ChainLock key is uncompressed: refusing it is stricter
            // than the node, never laxer.
            return Err(Reason::PublicKeyEncoding {
                detail: "uncompressed public keys are not used by ChainLock".into(),
            });
        }
        _ => {
            return Err(Reason::PublicKeyEncoding {
                detail: format!(
                    "{} bytes is not a compressed or uncompressed SEC1 key",
                    key_item.len()
                ),
            })
        }
    };
    let Some(encoded) = encoded else {
        return Err(Reason::MissingSignatures { required: 1 });
    };
    let digest = sighasher.digest(encoded.sighash_type, sig_push)?;
    if verify_prehash(&key, &digest, &encoded.sig).is_err() {
        return Err(Reason::SignatureFailed {
            push: sig_push,
            detail: format!(
                "does not verify for key {} over the transaction's sighash",
                key.key_id()
            ),
        });
    }
    if items.len() != 2 {
        return Err(Reason::WrongPushCount {
            expected: 2,
            got: items.len(),
        });
    }
    Ok(vec![AcceptedSignature {
        key,
        sighash_type: encoded.sighash_type,
    }])
}

fn check_custody(
    items: &[Vec<u8>],
    custody: &Custody,
    sighasher: &mut Sighasher<'_>,
) -> Result<Vec<AcceptedSignature>, Reason> {
    let m = custody.threshold;
    let n = custody.keys.len();
    let expected = m + 1;
    if items.len() < expected {
        return Err(Reason::WrongPushCount {
            expected,
            got: items.len(),
        });
    }
    // Positions in `items`: the dummy, then the m signatures on top of the stack.
    let dummy_at = items.len() - expected;
    let sigs_at = dummy_at + 1;

    // CHECKMULTISIG walks from the top of the stack: the last signature against the last
    // key, moving to the previous key on each failure and to the previous signature on each
    // success, and gives up when fewer keys remain than signatures.
    let mut accepted = Vec::with_capacity(m);
    let mut sig_left = m;
    let mut key_left = n;
    let mut failure: Option<Reason> = None;
    while sig_left > 0 {
        let idx = sigs_at + sig_left - 1;
        let push = idx + 1;
        let key = &custody.keys[key_left - 1];
        let matched = match check_sig_encoding(&items[idx], push)? {
            Some(encoded) => {
                let digest = sighasher.digest(encoded.sighash_type, push)?;
                verifies(key, &encoded, &digest).map(|pk| AcceptedSignature {
                    key: pk,
                    sighash_type: encoded.sighash_type,
                })
            }
            None => None,
        };
        if let Some(sig) = matched {
            accepted.push(sig);
            sig_left -= 1;
        }
        key_left -= 1;
        if sig_left > key_left {
            failure = Some(if items[idx].is_empty() {
                Reason::MissingSignatures { required: m }
            } else {
                Reason::SignatureFailed {
                    push,
                    detail: format!(
                        "it verifies for none of the keys left in key order (signatures must follow the custody keys' byte order); {} of {m} signatures matched",
                        accepted.len()
                    ),
                }
            });
            break;
        }
    }
    if let Some(reason) = failure {
        // NULLFAIL: when CHECKMULTISIG fails, every signature must be empty.
        if let Some(pos) = (sigs_at..sigs_at + m).find(|&i| !items[i].is_empty()) {
            return Err(match reason {
                Reason::MissingSignatures { .. } => Reason::SignatureFailed {
                    push: pos + 1,
                    detail: "CHECKMULTISIG failed and this signature is not empty (NULLFAIL)"
                        .into(),
                },
                other => other,
            });
        }
        if !items[dummy_at].is_empty() {
            return Err(Reason::NonNullDummy);
        }
        return Err(reason);
    }
    if !items[dummy_at].is_empty() {
        return Err(Reason::NonNullDummy);
    }
    if items.len() != expected {
        return Err(Reason::WrongPushCount {
            expected,
            got: items.len(),
        });
    }
    accepted.reverse();
    Ok(accepted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::script::Builder;
    use crate::sighash::{sighash_forkid, SIGHASH_ALL_FORKID};
    use crate::tx::{OutPoint, TxIn, TxOut, Txid};
    use k256::ecdsa::signature::hazmat::PrehashSigner;

    fn key(n: u8) -> SecretKey {
        let mut b = [0u8; 32];
        b[31] = n;
        b[0] = 0x5a;
        SecretKey::from_bytes(&b).unwrap()
    }

    /// Three keys sorted by public key bytes.
    fn sorted_keys() -> Vec<SecretKey> {
        let mut ks = vec![key(1), key(2), key(3)];
        ks.sort_by_key(|k| k.public_key());
        ks
    }

    fn unsigned() -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: Txid([3; 32]),
                    vout: 1,
                },
                script_sig: Script::default(),
                sequence: 0xffff_ffff,
            }],
            outputs: vec![TxOut {
                value: 0,
                script_pubkey: Script::commitment(&[9; 32]),
            }],
            lock_time: 0,
        }
    }

    fn custody_spent(m: usize, ks: &[SecretKey]) -> SpentOutput {
        let keys: Vec<_> = ks.iter().map(|k| k.public_key().to_bytes()).collect();
        SpentOutput {
            script_pubkey: Script::custody(m, &keys).unwrap(),
            value: 10_000,
        }
    }

    fn with_script(tx: &Transaction, pushes: &[&[u8]]) -> Transaction {
        let mut b = Builder::new();
        for p in pushes {
            b.push(p);
        }
        let mut tx = tx.clone();
        tx.inputs[0].script_sig = b.into_script();
        tx
    }

    /// A signature with a chosen sighash type (the protocol's signer only makes 0x41).
    fn sign_with_type(sk: &SecretKey, tx: &Transaction, spent: &SpentOutput, t: u8) -> Vec<u8> {
        let d = sighash_forkid(tx, 0, &spent.script_pubkey, spent.value, u32::from(t)).unwrap();
        let signing = k256::ecdsa::SigningKey::from_bytes((&*sk.to_bytes()).into()).unwrap();
        let sig: k256::ecdsa::Signature = signing.sign_prehash(&d).unwrap();
        let mut out = sig
            .normalize_s()
            .unwrap_or(sig)
            .to_der()
            .as_bytes()
            .to_vec();
        out.push(t);
        out
    }

    #[test]
    fn custody_two_of_three_every_pair() {
        let ks = sorted_keys();
        let spent = custody_spent(2, &ks);
        let tx = unsigned();
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let sa = ks[a].sign_input_unchecked(&tx, 0, &spent).unwrap();
            let sb = ks[b].sign_input_unchecked(&tx, 0, &spent).unwrap();
            let v = check_input(&with_script(&tx, &[&[], &sa, &sb]), 0, &spent);
            assert!(v.is_valid(), "{a},{b}: {:?}", v.reason());
            assert_eq!(v.template.to_string(), "custody 2-of-3");
            let keys: Vec<_> = v.signatures().iter().map(|s| s.key).collect();
            assert_eq!(keys, vec![ks[a].public_key(), ks[b].public_key()]);
            assert!(v
                .signatures()
                .iter()
                .all(|s| u32::from(s.sighash_type) == SIGHASH_ALL_FORKID));

            // Out of key order.
            let v = check_input(&with_script(&tx, &[&[], &sb, &sa]), 0, &spent);
            assert!(
                matches!(v.reason(), Some(Reason::SignatureFailed { .. })),
                "{:?}",
                v.reason()
            );
        }
    }

    #[test]
    fn custody_failures_name_the_rule() {
        let ks = sorted_keys();
        let spent = custody_spent(2, &ks);
        let tx = unsigned();
        let s0 = ks[0].sign_input_unchecked(&tx, 0, &spent).unwrap();
        let s1 = ks[1].sign_input_unchecked(&tx, 0, &spent).unwrap();
        let judge = |pushes: &[&[u8]]| check_input(&with_script(&tx, pushes), 0, &spent);

        assert_eq!(
            judge(&[&[], &s1]).reason(),
            Some(&Reason::WrongPushCount {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            judge(&[&[], &[], &s0, &s1]).reason(),
            Some(&Reason::WrongPushCount {
                expected: 3,
                got: 4
            })
        );
        assert_eq!(
            judge(&[&[1], &s0, &s1]).reason(),
            Some(&Reason::NonNullDummy)
        );
        assert_eq!(
            judge(&[&[], &[], &[]]).reason(),
            Some(&Reason::MissingSignatures { required: 2 })
        );
        // One empty signature and one valid: NULLFAIL does not apply to the empty one, but the
        // valid one is non-empty in a failed CHECKMULTISIG.
        assert!(matches!(
            judge(&[&[], &[], &s1]).reason(),
            Some(Reason::SignatureFailed { .. })
        ));

        let mut high = s0.clone();
        let der = parse_der_strict(&high[..high.len() - 1]).unwrap();
        let hs = k256::ecdsa::Signature::from_scalars(
            der.r().to_bytes(),
            (-*der.s().as_ref()).to_bytes(),
        )
        .unwrap();
        high = hs.to_der().as_bytes().to_vec();
        high.push(0x41);
        assert_eq!(
            judge(&[&[], &high, &s1]).reason(),
            Some(&Reason::HighS { push: 2 })
        );

        let no_forkid = sign_with_type(&ks[1], &tx, &spent, 0x01);
        assert_eq!(
            judge(&[&[], &s0, &no_forkid]).reason(),
            Some(&Reason::MissingForkId {
                push: 3,
                sighash_type: 1
            })
        );
        let undefined = sign_with_type(&ks[1], &tx, &spent, 0x44);
        assert_eq!(
            judge(&[&[], &s0, &undefined]).reason(),
            Some(&Reason::UndefinedSighashType {
                push: 3,
                sighash_type: 0x44
            })
        );
        // SINGLE|FORKID: the node accepts it; the verdict exposes the type for the protocol.
        let single = sign_with_type(&ks[1], &tx, &spent, 0x43);
        let v = judge(&[&[], &s0, &single]);
        assert!(v.is_valid(), "{:?}", v.reason());
        assert_eq!(v.signatures()[1].sighash_type, 0x43);

        let mut bad_der = s0.clone();
        bad_der[0] = 0x31;
        assert!(matches!(
            judge(&[&[], &bad_der, &s1]).reason(),
            Some(Reason::SignatureEncoding { push: 2, .. })
        ));
    }

    #[test]
    fn edited_transactions_fail() {
        let ks = sorted_keys();
        let spent = custody_spent(1, &ks[..1]);
        let tx = unsigned();
        let s = ks[0].sign_input_unchecked(&tx, 0, &spent).unwrap();
        let good = with_script(&tx, &[&[], &s]);
        assert!(check_input(&good, 0, &spent).is_valid());
        let mut edited = good.clone();
        edited.outputs[0].script_pubkey = Script::commitment(&[8; 32]);
        assert!(matches!(
            check_input(&edited, 0, &spent).reason(),
            Some(Reason::SignatureFailed { .. })
        ));
        let other_value = SpentOutput {
            value: spent.value + 1,
            ..spent.clone()
        };
        assert!(!check_input(&good, 0, &other_value).is_valid());
    }

    #[test]
    fn unlocking_script_rules() {
        let ks = sorted_keys();
        let spent = custody_spent(1, &ks[..1]);
        let tx = unsigned();
        let s = ks[0].sign_input_unchecked(&tx, 0, &spent).unwrap();
        let mut raw = vec![op::OP_0, s.len() as u8];
        raw.extend_from_slice(&s);

        let mut t = tx.clone();
        t.inputs[0].script_sig = Script::from(raw.clone());
        assert!(check_input(&t, 0, &spent).is_valid());

        // OP_PUSHDATA1 where a direct push suffices.
        let mut nonminimal = vec![op::OP_0, op::OP_PUSHDATA1, s.len() as u8];
        nonminimal.extend_from_slice(&s);
        t.inputs[0].script_sig = Script::from(nonminimal);
        assert_eq!(
            check_input(&t, 0, &spent).reason(),
            Some(&Reason::NonMinimalPush { push: 2 })
        );

        // A dummy of one zero byte pushed as OP_1 would be data [1]: NULLDUMMY.
        let mut op1_dummy = raw.clone();
        op1_dummy[0] = op::OP_1;
        t.inputs[0].script_sig = Script::from(op1_dummy);
        assert_eq!(
            check_input(&t, 0, &spent).reason(),
            Some(&Reason::NonNullDummy)
        );

        let mut not_push = raw.clone();
        not_push.push(op::OP_DUP);
        t.inputs[0].script_sig = Script::from(not_push);
        assert_eq!(
            check_input(&t, 0, &spent).reason(),
            Some(&Reason::NotPushOnly { opcode: op::OP_DUP })
        );

        t.inputs[0].script_sig = Script::from(raw[..raw.len() - 3].to_vec());
        assert!(matches!(
            check_input(&t, 0, &spent).reason(),
            Some(Reason::MalformedScript { .. })
        ));

        assert_eq!(
            check_input(&t, 1, &spent).reason(),
            Some(&Reason::NoSuchInput { inputs: 1 })
        );
        let unknown = SpentOutput {
            script_pubkey: Script::from(vec![op::OP_1]),
            value: 1,
        };
        let v = check_input(&t, 0, &unknown);
        assert_eq!(
            (v.template.clone(), v.reason().cloned()),
            (Template::Unknown, Some(Reason::UnknownTemplate))
        );
    }

    #[test]
    fn p2pkh_spends() {
        let sk = key(7);
        let pk = sk.public_key();
        let spent = SpentOutput {
            script_pubkey: Script::p2pkh(&pk.hash160()),
            value: 50_000,
        };
        let tx = unsigned();
        let s = sk.sign_input_unchecked(&tx, 0, &spent).unwrap();
        let v = check_input(&with_script(&tx, &[&s, &pk.to_bytes()]), 0, &spent);
        assert!(v.is_valid(), "{:?}", v.reason());
        assert_eq!(v.template.to_string(), "P2PKH");
        assert_eq!(v.signatures()[0].key, pk);

        let other = key(8).public_key();
        assert_eq!(
            check_input(&with_script(&tx, &[&s, &other.to_bytes()]), 0, &spent).reason(),
            Some(&Reason::PublicKeyHashMismatch)
        );
        assert_eq!(
            check_input(&with_script(&tx, &[&[], &pk.to_bytes()]), 0, &spent).reason(),
            Some(&Reason::MissingSignatures { required: 1 })
        );
        assert_eq!(
            check_input(&with_script(&tx, &[&pk.to_bytes()]), 0, &spent).reason(),
            Some(&Reason::WrongPushCount {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            check_input(&with_script(&tx, &[&[], &s, &pk.to_bytes()]), 0, &spent).reason(),
            Some(&Reason::WrongPushCount {
                expected: 2,
                got: 3
            })
        );
        let mut edited = with_script(&tx, &[&s, &pk.to_bytes()]);
        edited.lock_time = 1;
        assert!(matches!(
            check_input(&edited, 0, &spent).reason(),
            Some(Reason::SignatureFailed { push: 1, .. })
        ));
    }
}
