import {
  Metadata,
  status,
  type Client,
  type ClientReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import {
  asTriadError,
  callContext,
  errorKinds,
  isErrorCode,
  newTraceId,
  TriadError,
  type CallContext,
  type Logger,
} from '../shared/index.js';

/** Metadata keys that carry a call's identity between processes (DESIGN §6: logs correlate by trace_id). */
const traceKey = 'x-trace-id';
const correlationKey = 'x-correlation-id';
/**
 * The caller as the server's authorisation interceptor verified it (edges/grpc/authz.ts), JSON. Reserved: the
 * interceptor overwrites whatever a client sends under this key before any handler reads it.
 */
export const callerKey = 'x-triad-caller';
/** Carries the stable error code so the far side rebuilds the same TriadError, not a bare status. */
const errorCodeKey = 'triad-error-code';
/** Structured details (a refused gate's checks) as UTF-8 JSON; binary metadata because JSON may hold non-ASCII. */
const errorDetailsKey = 'triad-error-details-bin';

export type UnaryHandler<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res;

/**
 * Adapts an async handler to grpc-js: runs it inside the caller's trace context (or a fresh one) and turns a thrown
 * TriadError into its gRPC status plus the stable code in trailing metadata.
 */
export function unaryHandler<Req, Res>(log: Logger, method: string, handler: UnaryHandler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const context = contextFrom(call.metadata);
    callContext.run(context, () => {
      Promise.resolve()
        .then(() => handler(call.request, call))
        .then(
          (response) => callback(null, response),
          (err: unknown) => callback(toServiceError(log, method, err)),
        );
    });
  };
}

function toServiceError(log: Logger, method: string, err: unknown): Partial<ServiceError> {
  const error = asTriadError(err);
  if (error.code === 'INTERNAL') log.error({ err: error, operation: method }, 'rpc failed');
  const trailer = new Metadata();
  trailer.set(errorCodeKey, error.code);
  if (error.details !== undefined) trailer.set(errorDetailsKey, Buffer.from(JSON.stringify(error.details), 'utf8'));
  return { code: errorKinds[error.code].grpc, details: error.detail, metadata: trailer };
}

export type StreamHandler<Req, Res> = (request: Req, emit: (message: Res) => void) => Promise<void>;

/**
 * Like unaryHandler for server-streaming methods: `emit` writes one message; a thrown error ends the stream.
 * Once the handler has settled, emit drops its message: work the handler started but did not wait for (a push to a
 * node the change did not target) may still report. Written after end(), it would fail the stream while earlier
 * messages were still queued — and grpc-js then destroys the stream without sending a status, so the client waited
 * for its deadline.
 */
export function serverStreamHandler<Req, Res>(log: Logger, method: string, handler: StreamHandler<Req, Res>) {
  return (call: ServerWritableStream<Req, Res>): void => {
    let open = true;
    const emit = (message: Res): void => {
      if (open) call.write(message);
    };
    callContext.run(contextFrom(call.metadata), () => {
      Promise.resolve()
        .then(() => handler(call.request, emit))
        .then(
          () => {
            open = false;
            call.end();
          },
          (err: unknown) => {
            open = false;
            call.emit('error', toServiceError(log, method, err));
          },
        );
    });
  };
}

function contextFrom(metadata: Metadata): CallContext {
  const trace = metadata.get(traceKey)[0];
  const correlation = metadata.get(correlationKey)[0];
  const caller = metadata.get(callerKey)[0];
  return {
    trace_id: typeof trace === 'string' && trace.length > 0 && trace.length <= 64 ? trace : newTraceId(),
    ...(typeof correlation === 'string' && correlation.length > 0 && correlation.length <= 128
      ? { correlation_id: correlation }
      : {}),
    ...(typeof caller === 'string' ? { caller: JSON.parse(caller) as NonNullable<CallContext['caller']> } : {}),
  };
}

export interface CallOptions {
  deadlineMs: number;
  /** Defaults to the current call context, so a handler that calls a peer passes its trace on. */
  context?: Partial<CallContext>;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: (err: ServiceError | null, response?: Res) => void,
) => unknown;

/** Calls a unary method with a deadline and trace metadata; failures come back as TriadErrors with stable codes. */
export function callUnary<Req, Res>(client: Client, method: string, request: Req, options: CallOptions): Promise<Res> {
  const fn = clientMethod<UnaryMethod<Req, Res>>(client, method);
  if (!fn) return Promise.reject(new TriadError('INTERNAL', `no RPC method "${method}"`));
  return new Promise<Res>((resolve, reject) => {
    fn.call(client, request, outgoingMetadata(options), deadlineIn(options), (err, response) => {
      if (err) reject(fromServiceError(err, client, method));
      else resolve(response as Res);
    });
  });
}

type StreamMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: Date },
) => ClientReadableStream<Res>;

/** Calls a server-streaming method; `onMessage` sees each message, the promise settles when the stream ends. */
export function callServerStream<Req, Res>(
  client: Client,
  method: string,
  request: Req,
  options: CallOptions & { onMessage: (message: Res) => void },
): Promise<void> {
  const fn = clientMethod<StreamMethod<Req, Res>>(client, method);
  if (!fn) return Promise.reject(new TriadError('INTERNAL', `no RPC method "${method}"`));
  return new Promise<void>((resolve, reject) => {
    const stream = fn.call(client, request, outgoingMetadata(options), deadlineIn(options));
    stream.on('data', (message: Res) => options.onMessage(message));
    stream.on('error', (err: ServiceError) => reject(fromServiceError(err, client, method)));
    stream.on('end', () => resolve());
  });
}

/** Trace and correlation ids for a call: the current call context's, overridden by the caller's. */
function outgoingMetadata(options: CallOptions): Metadata {
  const metadata = new Metadata();
  const context = { ...callContext.getStore(), ...options.context };
  if (context.trace_id) metadata.set(traceKey, context.trace_id);
  if (context.correlation_id) metadata.set(correlationKey, context.correlation_id);
  return metadata;
}

function deadlineIn(options: CallOptions): { deadline: Date } {
  return { deadline: new Date(Date.now() + options.deadlineMs) };
}

/** The generated client's method of that name, or undefined (a typo, or a node of another version). */
function clientMethod<T>(client: Client, method: string): T | undefined {
  const fn = (client as unknown as Record<string, unknown>)[method];
  return typeof fn === 'function' ? (fn as T) : undefined;
}

function fromServiceError(err: ServiceError, client: Client, method: string): TriadError {
  const code = err.metadata?.get(errorCodeKey)[0];
  if (isErrorCode(code)) {
    const raw = err.metadata?.get(errorDetailsKey)[0];
    let details: unknown;
    try {
      details = Buffer.isBuffer(raw) ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      details = undefined;
    }
    return new TriadError(code, err.details, { cause: err, ...(details !== undefined ? { details } : {}) });
  }
  const target = client.getChannel().getTarget().replace(/^dns:/, '');
  switch (err.code) {
    case status.UNAVAILABLE:
      return new TriadError('PEER_UNAVAILABLE', `${target} is unreachable (${err.details})`, { cause: err });
    case status.DEADLINE_EXCEEDED:
      return new TriadError('TIMEOUT', `${target} did not answer ${method} before the deadline`, { cause: err });
    case status.INVALID_ARGUMENT:
      return new TriadError('INPUT_INVALID', err.details, { cause: err });
    case status.UNIMPLEMENTED:
      return new TriadError('INTERNAL', `${target} does not implement ${method}: is it a triad node of this version?`, {
        cause: err,
      });
    default:
      return new TriadError('INTERNAL', `${method} on ${target} failed: ${err.details}`, { cause: err });
  }
}
