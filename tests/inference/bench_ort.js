// ONNX Runtime side of `make bench-inference`: scores the same ONNX file on
// the same inputs as the Witan benchmark, one thread, and prints one line:
//   ort single_per_s=N batch_per_s=N max_err=E
// usage: node bench_ort.js ORT_DIR MODEL.onnx SAMPLES.csv REF.csv SECONDS ROUNDS [ROWS]
// Each figure is the best of ROUNDS runs of SECONDS. ROWS (when not 0): the
// sample rows (and their reference rows) repeated to that many.
'use strict';
const path = require('path');
const fs = require('fs');
const [ortDir, model, samplesCsv, refCsv, secondsArg, roundsArg, rowsArg] = process.argv.slice(2);
const ort = require(path.resolve(ortDir, 'node_modules', 'onnxruntime-node'));

function readCsv(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length);
  const rows = lines.filter((l) => !/[a-df-zA-DF-Z_]/.test(l));
  return rows.map((l) => l.split(',').map(Number));
}

async function main() {
  const seconds = Number(secondsArg || 1);
  let rows = readCsv(samplesCsv);
  let ref = readCsv(refCsv);
  const want = Number(rowsArg || 0);
  if (want) {
    rows = Array.from({ length: want }, (_, i) => rows[i % rows.length]);
    ref = Array.from({ length: want }, (_, i) => ref[i % ref.length]);
  }
  const n = rows.length, c = rows[0].length;
  const data = new Float32Array(n * c);
  rows.forEach((r, i) => r.forEach((v, j) => { data[i * c + j] = v; }));
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const input = sess.inputNames[0];
  const output = sess.outputNames[sess.outputNames.length - 1];
  // Batched: all samples in one call; also the accuracy check.
  const batch = new ort.Tensor('float32', data, [n, c]);
  let out = await sess.run({ [input]: batch });
  const y = out[output].data;
  let maxErr = 0;
  const k = y.length / n;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) maxErr = Math.max(maxErr, Math.abs(y[i * k + j] - ref[i][j]));
  const budget = BigInt(Math.round(seconds * 1e9));
  const singles = [];
  for (let i = 0; i < n; i++)
    singles.push(new ort.Tensor('float32', data.subarray(i * c, (i + 1) * c), [1, c]));
  for (let i = 0; i < 200; i++) await sess.run({ [input]: singles[i % n] });
  let batchPerS = 0, singlePerS = 0;
  for (let round = 0; round < Number(roundsArg || 1); round++) {
    let t0 = process.hrtime.bigint(), calls = 0;
    while (process.hrtime.bigint() - t0 < budget) {
      out = await sess.run({ [input]: batch });
      calls++;
    }
    batchPerS = Math.max(batchPerS, (calls * n) / (Number(process.hrtime.bigint() - t0) / 1e9));
    t0 = process.hrtime.bigint();
    calls = 0;
    while (process.hrtime.bigint() - t0 < budget) {
      await sess.run({ [input]: singles[calls % n] });
      calls++;
    }
    singlePerS = Math.max(singlePerS, calls / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  console.log(`ort single_per_s=${singlePerS.toFixed(0)} batch_per_s=${batchPerS.toFixed(0)} max_err=${maxErr.toExponential(3)}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
