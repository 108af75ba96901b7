import { fork, type ChildProcess } from 'node:child_process';
import { z } from 'zod';

/**
 * The benchmark's processes (the local HubSpot, each backend) talk to the driver over Node's IPC channel: one request,
 * one answer, matched by id. A protocol is an interface of async operations taking one argument.
 */
// `never` as the argument type admits every one-argument operation (parameters are contravariant).
export type Protocol = Record<string, (argument: never) => Promise<unknown>>;

export interface Child<P extends Protocol> {
  readonly pid: number;
  call<K extends keyof P & string>(op: K, argument: Parameters<P[K]>[0]): Promise<Awaited<ReturnType<P[K]>>>;
  /** Ends the process (its `close` operation, if any, runs first) and waits for it to exit. */
  stop(): Promise<void>;
}

const requestSchema = z.object({ id: z.number().int(), op: z.string(), argument: z.unknown() });
const answerSchema = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), value: z.unknown() }),
  z.object({ id: z.number().int(), ok: z.literal(false), error: z.string() }),
]);

/** Starts `script` under tsx with --expose-gc (the backend's heap is measured after a forced collection). */
export function startChild<P extends Protocol>(script: URL, name: string): Child<P> {
  const child: ChildProcess = fork(script, [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const entry of waiting.values()) entry.reject(new Error(`${name} exited (${code ?? signal}) before answering`));
      waiting.clear();
      resolve();
    }),
  );
  child.on('message', (message) => {
    const answer = answerSchema.parse(message);
    const entry = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.ok) entry?.resolve(answer.value);
    else entry?.reject(new Error(`${name}: ${answer.error}`));
  });
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  const pid = child.pid;

  return {
    pid,
    call(op, argument) {
      nextId += 1;
      const id = nextId;
      return new Promise((resolve, reject) => {
        // The protocol types the answer; IPC cannot carry a type across.
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, op, argument });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The child's side: answers each request with its handler; when the driver disconnects, `close` (if the protocol has
 * one) runs and the process exits.
 */
export function serve(handlers: Protocol & { close?: () => Promise<unknown> }): void {
  const send = (message: unknown) => process.send?.(message);
  process.on('message', (message) => {
    const request = requestSchema.parse(message);
    // The driver's protocol type names each operation's argument; what crosses IPC is checked by the handler's use of it.
    const handler = handlers[request.op] as ((argument: unknown) => Promise<unknown>) | undefined;
    if (handler === undefined) {
      send({ id: request.id, ok: false, error: `no operation ${request.op}` });
      return;
    }
    handler(request.argument).then(
      (value) => send({ id: request.id, ok: true, value }),
      (error: unknown) => send({ id: request.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  process.once('disconnect', () => {
    const close = handlers.close ?? (async () => undefined);
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
