import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import tls from 'node:tls';
import {
  credentials,
  experimental,
  ServerCredentials,
  type ChannelCredentials,
  type ChannelOptions,
  type experimental as Experimental,
} from '@grpc/grpc-js';
import { TriadError } from '../shared/index.js';

/** What every gRPC channel and server of a process is built from, decided once by the composition root. */
export interface TransportCredentials {
  /** Credentials and extra channel options for a channel to host:port. */
  channel(address: string): ChannelSecurity;
  server: ServerCredentials;
  /** True for mutual TLS; false for plaintext (loopback only). */
  secure: boolean;
  /** Stops watching certificate files (nothing to stop for plaintext). */
  close(): void;
}

export interface ChannelSecurity {
  credentials: ChannelCredentials;
  options: ChannelOptions;
}

/**
 * Plaintext on both sides. The one place triad makes insecure credentials, so that securing the transport changes
 * this module and the composition roots that choose it, nothing else. Config refuses it off loopback (DESIGN §8).
 */
export function plaintextCredentials(): TransportCredentials {
  const insecure = { credentials: credentials.createInsecure(), options: {} };
  return {
    channel: () => insecure,
    server: ServerCredentials.createInsecure(),
    secure: false,
    close: () => undefined,
  };
}

export interface CertificateFilePaths {
  /** The cluster CA: what peers' certificates must be signed by. */
  ca: string;
  cert: string;
  key: string;
}

type CaListener = Experimental.CaCertificateUpdateListener;
type IdentityListener = Experimental.IdentityCertificateUpdateListener;

/**
 * A certificate, its key and the CA, read from files and re-read when they change (checked every `reloadIntervalMs`,
 * and at once on reload()): `triad certs rotate` then takes effect on running nodes without a restart. A new pair is
 * taken only when the key matches the certificate, so a reload that catches a rotation half-written keeps the old,
 * working pair. Implements grpc-js' CertificateProvider, so servers and channels switch to new connections' keys
 * without dropping the open ones.
 */
export class CertificateFiles implements Experimental.CertificateProvider {
  private ca: Buffer;
  private identity: { certificate: Buffer; privateKey: Buffer };
  private stamp: string;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly changeListeners = new Set<() => void>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly paths: CertificateFilePaths,
    reloadIntervalMs: number,
  ) {
    const first = this.read();
    if (!first.ok) {
      throw new TriadError(
        'STARTUP_FAILED',
        `${first.reason}. 'triad certs generate --out DIR' makes a cluster's certificates ('triad up' makes them for a local cluster); plaintext on loopback needs --insecure`,
      );
    }
    this.ca = first.ca;
    this.identity = first.identity;
    this.stamp = first.stamp;
    this.timer = setInterval(() => this.reload(), reloadIntervalMs);
    this.timer.unref();
  }

  /** The material in force now (the HTTPS endpoint takes it too). */
  current(): { ca: Buffer; cert: Buffer; key: Buffer } {
    return { ca: this.ca, cert: this.identity.certificate, key: this.identity.privateKey };
  }

  /** Told after every change that was taken. */
  onChange(listener: () => void): void {
    this.changeListeners.add(listener);
  }

  /** Re-reads the files now; returns whether a new, valid pair was taken. */
  reload(): boolean {
    const next = this.read();
    if (!next.ok || next.stamp === this.stamp) return false;
    this.ca = next.ca;
    this.identity = next.identity;
    this.stamp = next.stamp;
    for (const listener of this.caListeners) listener({ caCertificate: this.ca });
    for (const listener of this.identityListeners) listener(this.identity);
    for (const listener of this.changeListeners) listener();
    return true;
  }

  close(): void {
    clearInterval(this.timer);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(listener, { caCertificate: this.ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(listener, this.identity);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private read():
    | { ok: true; ca: Buffer; identity: { certificate: Buffer; privateKey: Buffer }; stamp: string }
    | { ok: false; reason: string } {
    const { ca: caFile, cert: certFile, key: keyFile } = this.paths;
    try {
      const stamp = [caFile, certFile, keyFile].map((f) => `${statSync(f).mtimeMs}:${statSync(f).size}`).join('|');
      if (stamp === this.stamp) return { ok: true, ca: this.ca, identity: this.identity, stamp };
      const ca = readFileSync(caFile);
      const certificate = readFileSync(certFile);
      const privateKey = readFileSync(keyFile);
      if (!new X509Certificate(certificate).checkPrivateKey(createPrivateKey(privateKey))) {
        return { ok: false, reason: `${keyFile} is not the key of ${certFile}` };
      }
      return { ok: true, ca, identity: { certificate, privateKey }, stamp };
    } catch (err) {
      return {
        ok: false,
        reason: `cannot read the certificates ${certFile}, ${keyFile}, ${caFile}: ${(err as Error).message}`,
      };
    }
  }
}

/**
 * Mutual TLS 1.3 for a process's servers and channels. Servers ask every client for a certificate but let the
 * handshake finish without a valid one: the authorisation interceptor then answers UNAUTHENTICATED with the reason
 * (no certificate, another CA, expired) instead of an opaque handshake failure. Channels verify the server against the
 * cluster CA and its host name, and present this process's certificate.
 */
export function mutualTlsCredentials(
  paths: CertificateFilePaths,
  reloadIntervalMs: number,
): TransportCredentials & {
  certificates: CertificateFiles;
} {
  // grpc-js passes no TLS version through its credentials; Node's process-wide minimum is how its servers and
  // channels get TLS 1.3. A triad process speaks TLS only to triad (and to PostgreSQL/Redis, which support 1.3).
  tls.DEFAULT_MIN_VERSION = 'TLSv1.3';
  const certificates = new CertificateFiles(paths, reloadIntervalMs);
  const byName = {
    credentials: experimental.createCertificateProviderChannelCredentials(certificates, certificates),
    options: {},
  };
  const byIp = new Map<string, ChannelSecurity>();
  return {
    channel(address) {
      const host = address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
      if (!isIP(host)) return byName;
      let security = byIp.get(host);
      if (!security) byIp.set(host, (security = ipChannel(certificates, host)));
      return security;
    },
    // grpc-js' function names its first argument the CA provider but uses it as the identity one; one provider is both.
    server: experimental.createCertificateProviderServerCredentials(certificates, certificates, false),
    secure: true,
    certificates,
    close: () => certificates.close(),
  };
}

/**
 * A channel to an IP address, verified against that IP. grpc-js sends the target host as the TLS server name, and
 * Node warns (DEP0123) on an IP there, once per process, into every CLI command's output. So the name sent is a
 * placeholder (SNI selects nothing on a triad server), and the certificate is still checked against the IP itself.
 */
function ipChannel(certificates: CertificateFiles, ip: string): ChannelSecurity {
  return {
    credentials: experimental.createCertificateProviderChannelCredentials(certificates, certificates, {
      checkServerIdentity: (_name, certificate) => tls.checkServerIdentity(ip, certificate),
    }),
    options: { 'grpc.ssl_target_name_override': `ip-${ip.replace(/[.:]/g, '-')}.triad.invalid` },
  };
}
