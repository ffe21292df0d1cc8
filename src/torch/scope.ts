// Deterministic memory management: tidy() scopes free every tensor made inside them
// except what is returned or kept, as in TensorFlow.js and TorchSharp's DisposeScope.
// The native handle's finalizer is only a safety net for tensors that escape all scopes.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  kept: boolean;
}

const scopes: Disposable[][] = [];

/** Called by every new tensor: the innermost scope owns it. */
export function track(tensor: Disposable): void {
  const scope = scopes[scopes.length - 1];
  if (scope) scope.push(tensor);
}

/** Marks a tensor so no scope disposes it; the caller owns it from now on. */
export function keep<T extends Disposable>(tensor: T): T {
  tensor.kept = true;
  return tensor;
}

function collect(value: unknown, into: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (typeof (value as Disposable).dispose === 'function' && 'kept' in (value as object)) {
    into.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, into, seen);
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      collect(key, into, seen);
      collect(item, into, seen);
    }
  } else if (value instanceof Set) {
    for (const item of value) collect(item, into, seen);
  } else if (!ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    // Plain objects and class instances alike (a returned Module keeps its parameters).
    for (const item of Object.values(value)) collect(item, into, seen);
  }
}

/**
 * Runs `fn` and frees every tensor created inside it, except kept tensors and tensors
 * found in its result. The search covers, at any depth: the result itself, array
 * elements, Map keys and values, Set members, and the own enumerable properties of any
 * other object (plain objects and class instances). It does not see tensors reachable
 * only through private (#) fields, getters, closures or prototypes: keep() those.
 * Returned tensors move to the enclosing scope. `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Disposable[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    disposeAll(scope, new Set());
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) {
    disposeAll(scope, new Set());
    throw new Error('tidy() takes a synchronous function; tensors cannot be tracked across an await');
  }
  const returned = new Set<Disposable>();
  collect(result, returned, new Set());
  // Only tensors this scope owns move up: a returned tensor made outside it (an
  // input passed straight through) stays with whoever owns it.
  const parent = scopes[scopes.length - 1];
  for (const tensor of scope) {
    if (tensor.kept) continue;
    if (!returned.has(tensor)) tensor.dispose();
    else if (parent) parent.push(tensor);
  }
  return result;
}

function disposeAll(scope: Disposable[], spare: Set<Disposable>): void {
  for (const tensor of scope) if (!tensor.kept && !spare.has(tensor)) tensor.dispose();
}

/** Disposes every tensor found in `value` (a tensor, or arrays/objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found, new Set());
  for (const tensor of found) tensor.dispose();
}
