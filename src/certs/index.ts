export { auditKeyBytes, auditKeyFileName, ensureAuditKey, readAuditKey } from './audit-key.js';
export {
  checkClientName,
  ensureLocalCertificates,
  generateCertificates,
  issueClientCertificate,
  rotateCertificates,
} from './directory.js';
export type { CertifiedInstance, ClientRequest, Written } from './directory.js';
export { identityIn, identityUri, verifyIdentity } from './identity.js';
export type { Identity } from './identity.js';
export { certificateLayout, isRole, roles } from './layout.js';
export type { CertificateLayout, KeyPairFiles, Role } from './layout.js';
