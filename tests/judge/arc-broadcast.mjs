// @bsv/sdk's own ARC broadcaster, pointed at a local server, so the Rust tests can compare
// the request it sends with ours, field by field.
//
// Input (stdin): {"url": "...", "apiKey": "..."|null, "deploymentId": "...",
//                 "tx": "<hex>", "sources": ["<hex of the transaction each input spends>"]}
// Output (stdout): the broadcaster's result as JSON.
import { ARC, Transaction } from '@bsv/sdk'

const input = JSON.parse(await new Promise(resolve => {
  let text = ''
  process.stdin.on('data', d => { text += d })
  process.stdin.on('end', () => resolve(text))
}))
const tx = Transaction.fromHex(input.tx)
tx.inputs.forEach((inp, i) => {
  if (input.sources?.[i]) inp.sourceTransaction = Transaction.fromHex(input.sources[i])
})
const config = { deploymentId: input.deploymentId }
if (input.apiKey) config.apiKey = input.apiKey
const result = await new ARC(input.url, config).broadcast(tx)
process.stdout.write(JSON.stringify(result) + '\n')
