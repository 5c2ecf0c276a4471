//! Maintainer keys: compressed secp256k1 public keys, secret keys that sign only what the
//! protocol lets them sign, and the node's strict signature encoding rules.
//!
//! A [`SecretKey`] signs exactly three things: the custody input of a verified request
//! ([`SecretKey::sign_custody_input`], which takes only a [`ReadyToSign`]), a P2PKH input
//! paying to its own key ([`SecretKey::sign_p2pkh_input`], the publisher's funding key topping
//! up custody), and a ChainLock statement ([`SecretKey::sign_statement`], a Bitcoin Signed
//! Message over fixed text). The `ALL|FORKID` sighash is always computed here from the
//! transaction; no public function signs a raw digest or a custody input of an unverified
//! transaction.

use std::fmt;
use std::str::FromStr;

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use k256::elliptic_curve::scalar::IsHigh as _;
use zeroize::{Zeroize, Zeroizing};

use crate::bsm::{self, StatementKind};
use crate::hash::{hash160, sha256};
use crate::record_tx::RecordTx;
use crate::sighash::{protocol_sighash, SIGHASH_ALL_FORKID};
use crate::tx::{SpentOutput, Transaction};
use crate::verify::ReadyToSign;
use crate::{Error, Result};

/// Length of a compressed SEC1 public key.
pub const PUBLIC_KEY_LEN: usize = 33;

/// A compressed secp256k1 public key, checked to be a point on the curve.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    /// Parses a 33-byte compressed key (prefix 02 or 03) and checks it lies on the curve.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: [u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|_| {
            Error::Crypto(format!(
                "a public key must be {PUBLIC_KEY_LEN} bytes (compressed SEC1), got {}",
                bytes.len()
            ))
        })?;
        if key[0] != 0x02 && key[0] != 0x03 {
            return Err(Error::Crypto(format!(
                "public key {} is not compressed: it starts with {:02x}, not 02 or 03",
                hex::encode(key),
                key[0]
            )));
        }
        VerifyingKey::from_sec1_bytes(&key).map_err(|_| {
            Error::Crypto(format!(
                "public key {} is not a point on secp256k1",
                hex::encode(key)
            ))
        })?;
        Ok(PublicKey(key))
    }

    /// Parses 66 lowercase hex digits (the protocol's canonical text form).
    pub fn from_hex(text: &str) -> Result<Self> {
        Self::from_bytes(&crate::hash::lower_hex_array::<PUBLIC_KEY_LEN>(
            "public key",
            text,
        )?)
    }

    /// The 33 bytes.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0
    }

    /// Lowercase hex of the 33 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key id: lowercase hex SHA-256 of the 33 bytes (PROTOCOL.md section 1).
    pub fn key_id(&self) -> String {
        hex::encode(sha256(&self.0))
    }

    /// RIPEMD-160 of SHA-256 of the key, as P2PKH commits to it.
    pub fn hash160(&self) -> [u8; 20] {
        hash160(&self.0)
    }

    /// The key for k256's verifier; infallible because construction checked the point.
    pub(crate) fn verifying_key(&self) -> Result<VerifyingKey> {
        VerifyingKey::from_sec1_bytes(&self.0).map_err(|_| {
            Error::Crypto(format!(
                "public key {} is not a point on secp256k1",
                self.to_hex()
            ))
        })
    }

    pub(crate) fn from_verifying_key(vk: &VerifyingKey) -> Result<Self> {
        Self::from_bytes(vk.to_encoded_point(true).as_bytes())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_hex(s)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        PublicKey::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A secp256k1 secret key. Zeroized on drop; `Debug` shows only the public key.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Self {
        SecretKey(SigningKey::random(&mut rand_core::OsRng))
    }

    /// The key with these 32 big-endian bytes; fails for zero or values not below the order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        SigningKey::from_bytes(bytes.into())
            .map(SecretKey)
            .map_err(|_| {
                Error::Crypto("secret key is zero or not below the secp256k1 group order".into())
            })
    }

    /// The 32 big-endian bytes, in a buffer that is zeroized when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut field = self.0.to_bytes();
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&field);
        let field_bytes: &mut [u8] = &mut field;
        field_bytes.zeroize();
        out
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        // A signing key's public point is on the curve and not the identity, so the
        // compressed encoding always parses.
        PublicKey(compressed(self.0.verifying_key()))
    }

    /// Co-signs the custody input of a request that passed every check on this machine:
    /// the only way a maintainer key signs a transaction. Returns strict DER (low S) followed
    /// by the sighash byte 0x41, over the digest computed from the verified transaction.
    pub fn sign_custody_input(&self, ready: &ReadyToSign) -> Result<Vec<u8>> {
        let rtx = ready.record_tx();
        let pk = self.public_key();
        if !rtx.custody().lists(&pk) {
            return Err(Error::Crypto(format!(
                "refusing to sign: key {} is not one of the custody keys of the input",
                pk.key_id()
            )));
        }
        self.sign_input_unchecked(rtx.tx(), RecordTx::INPUT_INDEX, rtx.spent())
    }

    /// Signs input `input_index` of `tx`, which must spend a P2PKH output paying to this
    /// key's own hash (a funding key's coins): never a custody input, whose signature is a
    /// maintainer's consent and goes through [`Self::sign_custody_input`] only.
    pub fn sign_p2pkh_input(
        &self,
        tx: &Transaction,
        input_index: usize,
        spent: &SpentOutput,
    ) -> Result<Vec<u8>> {
        let pk = self.public_key();
        match spent.script_pubkey.parse_p2pkh() {
            Ok(hash) if hash == pk.hash160() => self.sign_input_unchecked(tx, input_index, spent),
            _ => Err(Error::Crypto(format!(
                "refusing to sign input {input_index}: the spent output is not a P2PKH of key {}",
                pk.key_id()
            ))),
        }
    }

    /// Signs input `input_index` of `tx`, which spends `spent`, with `ALL|FORKID`: the sighash
    /// is computed here from the transaction. Crate-private: the public paths above decide
    /// what may be signed; tests of other crates reach it only through the loudly named
    /// `testing::sign_unverified_input` (feature `test-support`).
    pub(crate) fn sign_input_unchecked(
        &self,
        tx: &Transaction,
        input_index: usize,
        spent: &SpentOutput,
    ) -> Result<Vec<u8>> {
        let pk = self.public_key();
        let involved = match (
            spent.script_pubkey.parse_p2pkh(),
            spent.script_pubkey.parse_custody(),
        ) {
            (Ok(hash), _) => hash == pk.hash160(),
            (_, Ok(custody)) => custody.lists(&pk),
            _ => false,
        };
        if !involved {
            return Err(Error::Crypto(format!(
                "refusing to sign input {input_index}: the spent output is neither a P2PKH of key {} nor a custody multisig listing it",
                pk.key_id()
            )));
        }
        let digest = protocol_sighash(tx, input_index, spent)?;
        let sig = self.sign_digest(&digest)?;
        let mut out = sig.to_der().as_bytes().to_vec();
        out.push(SIGHASH_ALL_FORKID as u8);
        Ok(out)
    }

    /// Signs a ChainLock statement (`chainlock/1 <kind> <hex digest>`) as a Bitcoin Signed
    /// Message: base64 of the 65-byte compact recoverable signature, header 31..34.
    pub fn sign_statement(&self, kind: StatementKind, digest: &[u8; 32]) -> String {
        self.sign_message(bsm::statement_text(kind, digest).as_bytes())
    }

    /// Bitcoin Signed Message over arbitrary text. Private: the protocol signs statements only;
    /// kept for the known-answer test against Bitcoin Core's vector.
    pub(crate) fn sign_message(&self, message: &[u8]) -> String {
        let digest = bsm::message_digest(message);
        let (sig, recid) = self.sign_recoverable(&digest);
        bsm::encode_compact(&sig, recid)
    }

    /// RFC 6979 over a digest this module computed itself; low S.
    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature> {
        let (sig, _) = self.sign_recoverable(digest);
        if !is_low_s(&sig) {
            // k256 normalizes; this guards the invariant the node enforces.
            return Err(Error::Crypto("signer produced a high-S signature".into()));
        }
        Ok(sig)
    }

    fn sign_recoverable(&self, digest: &[u8; 32]) -> (Signature, RecoveryId) {
        // k256 returns low-S signatures with the recovery id adjusted to match. Signing a
        // 32-byte prehash with a valid key cannot fail short of a 2^-128 event, which RFC 6979
        // would have to produce twice; fall back to the normalized form defensively.
        match self.0.sign_prehash_recoverable(digest) {
            Ok((sig, recid)) => match sig.normalize_s() {
                Some(low) => (
                    low,
                    RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced()),
                ),
                None => (sig, recid),
            },
            Err(_) => unreachable_signing_failure(),
        }
    }
}

#[cold]
fn unreachable_signing_failure() -> ! {
    // RFC 6979 only fails when every candidate nonce is out of range, which has negligible
    // probability; continuing with no signature would be worse than stopping.
    panic!("secp256k1 signing failed for a valid key and a 32-byte digest")
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key())
    }
}

impl zeroize::ZeroizeOnDrop for SecretKey {}

fn compressed(vk: &VerifyingKey) -> [u8; PUBLIC_KEY_LEN] {
    let point = vk.to_encoded_point(true);
    let mut out = [0u8; PUBLIC_KEY_LEN];
    out.copy_from_slice(point.as_bytes());
    out
}

/// Parses a signature in strict DER as BIP66 defines it (the node's `IsValidSignatureEncoding`
/// without the sighash byte), then checks r and s are in range.
pub fn parse_der_strict(der: &[u8]) -> Result<Signature> {
    let bad = |why: &str| Error::Crypto(format!("signature is not strict DER (BIP66): {why}"));
    let len = der.len();
    if !(8..=72).contains(&len) {
        return Err(bad(&format!("length {len} is outside 8..=72")));
    }
    if der[0] != 0x30 {
        return Err(bad("does not start with a SEQUENCE (0x30)"));
    }
    if usize::from(der[1]) != len - 2 {
        return Err(bad("sequence length does not match the signature length"));
    }
    let len_r = usize::from(der[3]);
    if 5 + len_r >= len {
        return Err(bad("r runs past the end"));
    }
    let len_s = usize::from(der[5 + len_r]);
    if len_r + len_s + 6 != len {
        return Err(bad("r and s lengths do not add up to the signature length"));
    }
    if der[2] != 0x02 {
        return Err(bad("r is not an INTEGER (0x02)"));
    }
    if len_r == 0 {
        return Err(bad("r is empty"));
    }
    if der[4] & 0x80 != 0 {
        return Err(bad("r is negative"));
    }
    if len_r > 1 && der[4] == 0 && der[5] & 0x80 == 0 {
        return Err(bad("r has an unnecessary leading zero"));
    }
    if der[len_r + 4] != 0x02 {
        return Err(bad("s is not an INTEGER (0x02)"));
    }
    if len_s == 0 {
        return Err(bad("s is empty"));
    }
    if der[len_r + 6] & 0x80 != 0 {
        return Err(bad("s is negative"));
    }
    if len_s > 1 && der[len_r + 6] == 0 && der[len_r + 7] & 0x80 == 0 {
        return Err(bad("s has an unnecessary leading zero"));
    }
    let r = scalar_bytes(&der[4..4 + len_r], "r")?;
    let s = scalar_bytes(&der[6 + len_r..6 + len_r + len_s], "s")?;
    Signature::from_scalars(r, s)
        .map_err(|_| Error::Crypto("signature r or s is zero or not below the group order".into()))
}

/// A DER integer (already checked minimal and non-negative) as 32 big-endian bytes.
fn scalar_bytes(int: &[u8], name: &str) -> Result<[u8; 32]> {
    let trimmed = match int {
        [0, rest @ ..] => rest,
        all => all,
    };
    if trimmed.len() > 32 {
        return Err(Error::Crypto(format!(
            "signature {name} is wider than 256 bits"
        )));
    }
    let mut out = [0u8; 32];
    out[32 - trimmed.len()..].copy_from_slice(trimmed);
    Ok(out)
}

/// True if s is at most half the group order (the node's LOW_S rule).
pub fn is_low_s(sig: &Signature) -> bool {
    !bool::from(sig.s().is_high())
}

/// Checks a signature pushed in an unlocking script (DER followed by the sighash byte) for
/// input `input_index` of `tx`: strict DER, low S, sighash byte exactly `ALL|FORKID` (0x41),
/// and valid for `pk` over the sighash computed here.
pub fn verify_input_signature(
    pk: &PublicKey,
    sig_and_type: &[u8],
    tx: &Transaction,
    input_index: usize,
    spent: &SpentOutput,
) -> Result<()> {
    let context = |why: String| {
        Error::Crypto(format!(
            "input {input_index} signature by key {}: {why}",
            pk.key_id()
        ))
    };
    let (der, sighash_type) = match sig_and_type.split_last() {
        Some((t, der)) => (der, *t),
        None => return Err(context("empty signature".into())),
    };
    if u32::from(sighash_type) != SIGHASH_ALL_FORKID {
        return Err(context(format!(
            "sighash type is 0x{sighash_type:02x}; the protocol signs only ALL|FORKID (0x41)"
        )));
    }
    let sig = parse_der_strict(der).map_err(|e| context(e.to_string()))?;
    if !is_low_s(&sig) {
        return Err(context("s is high (the node requires low S)".into()));
    }
    let digest = protocol_sighash(tx, input_index, spent)?;
    verify_prehash(pk, &digest, &sig)
        .map_err(|_| context("does not verify over the transaction's sighash".into()))
}

/// ECDSA verification over a digest computed by the caller inside this crate.
pub(crate) fn verify_prehash(pk: &PublicKey, digest: &[u8; 32], sig: &Signature) -> Result<()> {
    pk.verifying_key()?
        .verify_prehash(digest, sig)
        .map_err(|_| Error::Crypto(format!("signature does not verify for key {}", pk.key_id())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use crate::script::Script;
    use crate::tx::{OutPoint, TxIn, TxOut, Txid};

    /// Bitcoin Core's `message_sign` test key (src/test/util_tests.cpp).
    const CORE_KEY: &str = "d97f5108f11cda6eeebaaa420fef0726b1f898060b98489fa3098463c0032866";

    fn key(n: u8) -> SecretKey {
        let mut b = [0u8; 32];
        b[31] = n;
        SecretKey::from_bytes(&b).unwrap()
    }

    fn spend_of(spent: &SpentOutput) -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: Txid([7; 32]),
                    vout: 0,
                },
                script_sig: Script::default(),
                sequence: 0xffff_ffff,
            }],
            outputs: vec![TxOut {
                value: spent.value - 200,
                script_pubkey: Script::commitment(&[1; 32]),
            }],
            lock_time: 0,
        }
    }

    #[test]
    fn generator_public_key_and_key_id() {
        let pk = key(1).public_key();
        assert_eq!(
            pk.to_hex(),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        assert_eq!(pk.key_id(), hex::encode(sha256(&pk.to_bytes())));
        // hash160 of the generator, the well-known address 1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH.
        assert_eq!(
            hex::encode(pk.hash160()),
            "751e76e8199196d454941c45d1b3a323f1433bd6"
        );
        assert_eq!(pk.to_string(), pk.to_hex());
        assert_eq!(PublicKey::from_hex(&pk.to_hex()).unwrap(), pk);
    }

    #[test]
    fn public_key_parsing_is_strict() {
        let good = key(1).public_key().to_bytes();
        assert!(PublicKey::from_bytes(&good[..32]).is_err());
        let mut uncompressed = [0u8; 65];
        uncompressed[0] = 4;
        assert!(PublicKey::from_bytes(&uncompressed).is_err());
        let mut wrong_prefix = good;
        wrong_prefix[0] = 0x04;
        assert!(PublicKey::from_bytes(&wrong_prefix).is_err());
        // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
        let mut off_curve = [0u8; 33];
        off_curve[0] = 2;
        off_curve[32] = 5;
        let err = PublicKey::from_bytes(&off_curve).unwrap_err();
        assert!(err.to_string().contains("not a point"), "{err}");
        assert!(PublicKey::from_hex(&key(1).public_key().to_hex().to_uppercase()).is_err());
    }

    #[test]
    fn public_key_serde_is_lowercase_hex() {
        let pk = key(3).public_key();
        let json = serde_json::to_string(&pk).unwrap();
        assert_eq!(json, format!("\"{}\"", pk.to_hex()));
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), pk);
        assert!(serde_json::from_str::<PublicKey>("\"02\"").is_err());
    }

    #[test]
    fn public_keys_order_by_bytes() {
        let mut keys = [
            key(1).public_key(),
            key(2).public_key(),
            key(3).public_key(),
        ];
        keys.sort();
        assert!(keys.windows(2).all(|w| w[0].to_bytes() < w[1].to_bytes()));
    }

    #[test]
    fn secret_key_round_trips_and_hides_itself() {
        let sk =
            SecretKey::from_bytes(&hex::decode(CORE_KEY).unwrap().try_into().unwrap()).unwrap();
        assert_eq!(hex::encode(*sk.to_bytes()), CORE_KEY);
        let debug = format!("{sk:?}");
        assert!(
            !debug.contains(CORE_KEY) && !debug.contains("d97f"),
            "{debug}"
        );
        assert!(debug.contains(&sk.public_key().to_hex()));
        assert!(SecretKey::from_bytes(&[0; 32]).is_err());
        assert!(SecretKey::from_bytes(&[0xff; 32]).is_err());
        assert_ne!(
            SecretKey::generate().public_key(),
            SecretKey::generate().public_key()
        );
    }

    #[test]
    fn bitcoin_core_message_sign_vector() {
        // Bitcoin Core src/test/util_tests.cpp, message_sign: compressed key, "Trust no one".
        let sk =
            SecretKey::from_bytes(&hex::decode(CORE_KEY).unwrap().try_into().unwrap()).unwrap();
        let sig = sk.sign_message(b"Trust no one");
        assert_eq!(sig, "IPojfrX2dfPnH26UegfbGQQLrdK844DlHq5157/P6h57WyuS/Qsl+h/WSVGDF4MUi4rWSswW38oimDYfNNUBUOk=");
    }

    #[test]
    fn input_signature_round_trip_and_tamper() {
        let sk = key(5);
        let pk = sk.public_key();
        let spent = SpentOutput {
            script_pubkey: Script::custody(1, &[pk.to_bytes()]).unwrap(),
            value: 1000,
        };
        let tx = spend_of(&spent);
        let sig = sk.sign_input_unchecked(&tx, 0, &spent).unwrap();
        assert_eq!(*sig.last().unwrap(), 0x41);
        let der = parse_der_strict(&sig[..sig.len() - 1]).unwrap();
        assert!(is_low_s(&der));
        verify_input_signature(&pk, &sig, &tx, 0, &spent).unwrap();
        // Deterministic (RFC 6979).
        assert_eq!(sk.sign_input_unchecked(&tx, 0, &spent).unwrap(), sig);

        let mut edited = tx.clone();
        edited.outputs[0].value -= 1;
        assert!(verify_input_signature(&pk, &sig, &edited, 0, &spent).is_err());
        let other_amount = SpentOutput {
            value: 1001,
            ..spent.clone()
        };
        assert!(verify_input_signature(&pk, &sig, &tx, 0, &other_amount).is_err());
        assert!(verify_input_signature(&key(6).public_key(), &sig, &tx, 0, &spent).is_err());
        let mut wrong_type = sig.clone();
        *wrong_type.last_mut().unwrap() = 0x01;
        let err = verify_input_signature(&pk, &wrong_type, &tx, 0, &spent).unwrap_err();
        assert!(err.to_string().contains("0x01"), "{err}");
        assert!(verify_input_signature(&pk, &[], &tx, 0, &spent).is_err());

        // The same signature with s replaced by n - s: valid ECDSA, refused for high S.
        let high =
            Signature::from_scalars(der.r().to_bytes(), (-*der.s().as_ref()).to_bytes()).unwrap();
        assert!(!is_low_s(&high));
        let mut high_sig = high.to_der().as_bytes().to_vec();
        high_sig.push(0x41);
        let err = verify_input_signature(&pk, &high_sig, &tx, 0, &spent).unwrap_err();
        assert!(err.to_string().contains("high"), "{err}");
    }

    #[test]
    fn sign_input_refuses_outputs_not_involving_the_key() {
        let sk = key(5);
        let spent = SpentOutput {
            script_pubkey: Script::custody(1, &[key(6).public_key().to_bytes()]).unwrap(),
            value: 1000,
        };
        assert!(sk
            .sign_input_unchecked(&spend_of(&spent), 0, &spent)
            .is_err());
        let p2pkh = SpentOutput {
            script_pubkey: Script::p2pkh(&sk.public_key().hash160()),
            value: 1000,
        };
        let tx = spend_of(&p2pkh);
        let sig = sk.sign_input_unchecked(&tx, 0, &p2pkh).unwrap();
        verify_input_signature(&sk.public_key(), &sig, &tx, 0, &p2pkh).unwrap();
        assert!(
            sk.sign_input_unchecked(&tx, 1, &p2pkh).is_err(),
            "input out of range"
        );
    }

    #[test]
    fn strict_der_rules() {
        let sk = key(9);
        let spent = SpentOutput {
            script_pubkey: Script::p2pkh(&sk.public_key().hash160()),
            value: 5000,
        };
        let sig = sk
            .sign_input_unchecked(&spend_of(&spent), 0, &spent)
            .unwrap();
        let der = &sig[..sig.len() - 1];
        parse_der_strict(der).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (der[..7].to_vec(), "length"),
            (
                {
                    let mut d = der.to_vec();
                    d[0] = 0x31;
                    d
                },
                "SEQUENCE",
            ),
            (
                {
                    let mut d = der.to_vec();
                    d[1] += 1;
                    d
                },
                "sequence length",
            ),
            (
                {
                    let mut d = der.to_vec();
                    d.push(0);
                    d
                },
                "sequence length",
            ),
            (
                {
                    let mut d = der.to_vec();
                    d[2] = 0x03;
                    d
                },
                "r is not an INTEGER",
            ),
            // r with a needless leading zero: 30 len 02 (lr+1) 00 r.. ; only if r's top bit is clear.
            (padded_r(der), "leading zero"),
        ];
        for (bytes, why) in cases {
            let err = parse_der_strict(&bytes).unwrap_err();
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
        // A negative r.
        let neg = [0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01];
        assert!(parse_der_strict(&neg)
            .unwrap_err()
            .to_string()
            .contains("negative"));
        // r = 0 is minimal DER but out of range.
        let zero = [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01];
        assert!(parse_der_strict(&zero)
            .unwrap_err()
            .to_string()
            .contains("zero"));
    }

    fn padded_r(der: &[u8]) -> Vec<u8> {
        let len_r = usize::from(der[3]);
        let r = &der[4..4 + len_r];
        let r = if r[0] == 0 { &r[1..] } else { r };
        // Force a top-bit-clear first byte so the extra zero is unnecessary.
        let mut r = r.to_vec();
        r[0] &= 0x7f;
        let s = &der[4 + len_r..];
        let mut out = vec![0x30, 0, 0x02, (r.len() + 1) as u8, 0];
        out.extend_from_slice(&r);
        out.extend_from_slice(s);
        out[1] = (out.len() - 2) as u8;
        out
    }
}
