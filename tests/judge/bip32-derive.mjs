// The independent judge of Ledger keys: reads cases on stdin, derives each BIP32 path from a
// BIP39 mnemonic with the official @bsv/sdk (Mnemonic, HD), and prints the compressed public
// keys as JSON on stdout. The Ledger tests compare them with what the device (the Speculos
// emulator, whose seed is a known mnemonic) answered.
//
// Input:  {"cases": [{"name": "...", "mnemonic": "<words>", "path": "m/45'/236'/0'/0/0"}]}
// Output: {"verdicts": [{"name": "...", "public_key": "<hex>"|null, "error": "..."|null}]}
import { HD, Mnemonic } from '@bsv/sdk'

let text = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) text += chunk
const { cases } = JSON.parse(text)
const verdicts = cases.map(c => {
  try {
    const seed = new Mnemonic(c.mnemonic).toSeed()
    const key = HD.fromSeed(seed).derive(c.path)
    return { name: c.name, public_key: key.pubKey.toString(), error: null }
  } catch (e) {
    return { name: c.name, public_key: null, error: e instanceof Error ? e.message : String(e) }
  }
})
process.stdout.write(JSON.stringify({ verdicts }) + '\n')
