// The independent judge of ChainLock statements (PROTOCOL.md section 1): reads cases on stdin,
// checks each Bitcoin Signed Message signature with the official @bsv/sdk BSM code, and prints
// one verdict per case as JSON on stdout.
//
// Input:  {"cases": [{"name": "...", "message": "chainlock/1 request <hex>",
//                     "signature": "<base64 of the 65-byte compact signature>",
//                     "public_key": "<compressed public key hex>"}]}
// Output: {"verdicts": [{"name": "...", "valid": true|false, "error": "..."|null}]}
//
// Valid means: BSM.verify accepts the signature for the key over the message, the compact
// header says "compressed key", and the key recovered from the header's recovery id is the
// given key (what a verifier holding only the signature would conclude).
import { BSM, BigNumber, PublicKey, Signature, Utils } from '@bsv/sdk'

function judge (c) {
  const message = Utils.toArray(c.message, 'utf8')
  const pubKey = PublicKey.fromString(c.public_key)
  const bytes = Utils.toArray(c.signature, 'base64')
  if (bytes.length !== 65) throw new Error(`signature is ${bytes.length} bytes, not 65`)
  const header = bytes[0]
  if (header < 31 || header > 34) throw new Error(`header ${header} is not a compressed-key header (31..34)`)
  const sig = Signature.fromCompact(c.signature, 'base64')
  if (!BSM.verify(message, sig, pubKey)) throw new Error('BSM.verify rejects the signature')
  const recovered = sig.RecoverPublicKey(header - 31, new BigNumber(BSM.magicHash(message)))
  if (recovered.toString() !== pubKey.toString()) throw new Error('the recovered key is not the signer')
  return true
}

let text = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) text += chunk
const { cases } = JSON.parse(text)
const verdicts = cases.map(c => {
  try {
    return { name: c.name, valid: judge(c), error: null }
  } catch (e) {
    return { name: c.name, valid: false, error: e instanceof Error ? e.message : String(e) }
  }
})
process.stdout.write(JSON.stringify({ verdicts }) + '\n')
