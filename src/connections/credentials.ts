import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';

/** What every gRPC channel and server of a process is built from, decided once by the composition root. */
export interface TransportCredentials {
  channel: ChannelCredentials;
  server: ServerCredentials;
}

/**
 * Plaintext on both sides. The one place triad makes insecure credentials, so that securing the transport (mTLS)
 * changes this module and the composition roots that choose it, nothing else.
 */
export function plaintextCredentials(): TransportCredentials {
  return { channel: credentials.createInsecure(), server: ServerCredentials.createInsecure() };
}
