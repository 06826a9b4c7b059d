// Regenerates canonical.jsonl with ECMAScript JSON.stringify (RFC 8785 string
// escaping) over objects with sorted keys: node canonical.js > canonical.jsonl
const crypto = require('crypto');
const cases = [
  {text: "hello"},
  {response: "Paris.", instruction: "What is the capital of France?"},
  {response: "b", input: "ctx", instruction: "a"},
  {text: "quote \" backslash \\ slash / lt < gt > amp & nl \n tab \t"},
  {text: "ctl \u0001 \u001f del \u007f bs \b ff \f cr \r"},
  {text: "unicode é 中文 😀 \u2028 \u2029 \u00a0"},
  {label: "positive", text: "Great product"},
];
for (const c of cases) {
  const sorted = {}; for (const k of Object.keys(c).sort()) sorted[k] = c[k];
  const j = JSON.stringify(sorted);
  console.log(JSON.stringify({fields: c, canonical: j, hash: '0x' + crypto.createHash('sha256').update(j, 'utf8').digest('hex')}));
}
