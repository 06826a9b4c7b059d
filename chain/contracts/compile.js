// Compiles every .sol file under src/ with solc-js (standard-JSON input) and
// writes one artifact per contract to artifacts/<Name>.json:
// {contractName, sourceName, compiler, abi, bytecode, deployedBytecode}.
// Output is deterministic so CI can diff it against the committed copy.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const root = __dirname;
const srcDir = path.join(root, 'src');
const outDir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'artifacts');

function listSol(dir) {
  return fs.readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return listSol(p);
      return e.name.endsWith('.sol') ? [p] : [];
    });
}

const sources = {};
for (const file of listSol(srcDir)) {
  // Source keys are relative so the metadata hash in the bytecode does not
  // depend on where the repository is checked out.
  const key = path.relative(root, file).split(path.sep).join('/');
  sources[key] = { content: fs.readFileSync(file, 'utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    // Prague is what mainnet and most L2s execute; pinning it keeps the
    // bytecode free of newer opcodes the default target might emit.
    evmVersion: 'prague',
    optimizer: { enabled: true, runs: 10000 },
    outputSelection: {
      '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
    },
  },
};

function findImports(importPath) {
  const candidates = [
    path.join(root, 'node_modules', importPath),
    path.join(root, importPath),
  ];
  for (const c of candidates) {
    if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') };
  }
  return { error: `import not found: ${importPath}` };
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const e of output.errors || []) {
  if (e.severity === 'error') failed = true;
  // Warnings inside OpenZeppelin are not ours to fix; show our own only.
  const file = e.sourceLocation && e.sourceLocation.file;
  if (e.severity !== 'error' && file && file.startsWith('@openzeppelin/')) continue;
  process.stderr.write((e.formattedMessage || e.message) + '\n');
}
if (failed) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
let count = 0;
for (const sourceName of Object.keys(sources)) {
  const contracts = output.contracts[sourceName] || {};
  for (const name of Object.keys(contracts).sort()) {
    const c = contracts[name];
    const bytecode = c.evm.bytecode.object;
    if (!bytecode) continue; // interfaces and abstract contracts
    const artifact = {
      contractName: name,
      sourceName,
      compiler: 'solc ' + solc.version(),
      abi: c.abi,
      bytecode: '0x' + bytecode,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(outDir, name + '.json'), JSON.stringify(artifact, null, 2) + '\n');
    count++;
  }
}
process.stdout.write(`compiled ${count} contracts with solc ${solc.version()} into ${path.relative(process.cwd(), outDir) || '.'}\n`);
