// Runs the reference (Debian's python3-torch, torchvision, numpy) for fixtures.
// Debian's interpreter is used by path: a python3 earlier on PATH may lack torch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PYTHON = process.env.RESNETS_PYTHON ?? '/usr/bin/python3';

/** Runs `scripts/<script>` with `args`; returns its stdout. */
export function runPython(script: string, args: string[] = []): string {
  return execFileSync(PYTHON, [join('scripts', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Runs inline Python code; returns its stdout. */
export function runPythonCode(code: string, args: string[] = []): string {
  return execFileSync(PYTHON, ['-c', code, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'resnets-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
