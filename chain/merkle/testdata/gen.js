// Regenerates standard_tree.json with OpenZeppelin's reference implementation:
//   npm install @openzeppelin/merkle-tree@1.0.8 && node gen.js > standard_tree.json
// Deterministic pseudo-random leaves so the vector is reproducible.
'use strict';
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

let seed = 0x12345678;
function rnd() { seed = (seed * 1103515245 + 12345) >>> 0; return seed; }
function hex(bytes) { let s = ''; for (let i = 0; i < bytes; i++) s += ((rnd() >>> 16) & 0xff).toString(16).padStart(2, '0'); return s; }

const cases = [];
for (const n of [1, 2, 3, 5, 8, 13, 100]) {
  const values = [];
  for (let i = 0; i < n; i++) {
    const account = '0x' + hex(20);
    const amount = BigInt('0x' + hex(1 + ((rnd() >>> 16) % 32))).toString();
    values.push([account, amount]);
  }
  if (n === 5) values[2][1] = '0';
  if (n === 8) values[3][1] = (2n ** 256n - 1n).toString();
  const tree = StandardMerkleTree.of(values, ['address', 'uint256']);
  cases.push({
    root: tree.root,
    leaves: values.map((v, i) => ({ account: v[0], amount: v[1], proof: tree.getProof(i) })),
  });
}
process.stdout.write(JSON.stringify(cases, null, 1) + '\n');
