// The public library API: everything the CLI does is callable from code.
export * from './errors.js';
export * from './config.js';
export * from './trace.js';
export * from './reference/index.js';
export * from './oci/index.js';
export { ImageStore, type StoredImage, type VerifyReport, type Lease, type WriteBlobResult } from './store/index.js';
export { RegistryClient, type RegistryClientOptions, type PingResult } from './registry/index.js';
export type { Credential, CredentialProvider } from './auth/types.js';
export { pullImage, type PullOptions, type PullResult } from './transfer/pull.js';
export { pushImage, type PushOptions, type PushResult } from './transfer/push.js';
export { copyImage, type CopyOptions, type CopyResult } from './transfer/copy.js';
export { copyReferrers, type ReferrersCopyOptions, type ReferrersCopyResult } from './transfer/copy-referrers.js';
export { mutateImage, appendLayer, type ConfigChanges } from './transfer/mutate.js';
export { listImageSummaries, type ImageSummary } from './transfer/images.js';
export type { TransferEvent, EventSink, LayerStatus } from './transfer/events.js';
export {
  resolveCredentials,
  storeCredentials,
  eraseCredentials,
  credentialProvider,
  fileStore,
  helperStore,
  keychainStore,
  keychainAvailable,
  registryHost,
  registryKey,
  type CredentialStore,
  type CredentialOptions,
  type StoreResult,
  type EraseResult,
} from './auth/credentials/index.js';
export { saveArchive, loadArchive, type SaveOptions, type SaveResult, type LoadOptions, type LoadResult, type ArchiveFormat } from './archive/index.js';
export * from './diagnose/index.js';
export { attach, parseFileArg, type AttachOptions, type AttachResult, type AttachFile } from './transfer/attach.js';
export { fetchArtifact, type FetchArtifactOptions, type FetchArtifactResult, type FetchedFile } from './transfer/fetch-artifact.js';
export { listReferrers, resolveDescriptor, readFallbackIndex, addToFallbackIndex, recordReferrers, type ReferrersListing, type ResolvedRef } from './image/referrers.js';
export * from './oci/artifact.js';
export { createIndex, type CreateIndexOptions, type CreateIndexResult, type IndexFormat } from './transfer/manifest-create.js';
export { signImage, type SignOptions, type SignResult } from './sign/sign.js';
export { verifyImage, type VerifyOptions, type VerifyResult, type SignatureCheck, type SignatureOutcome } from './sign/verify.js';
export { loadPrivateKey, loadPublicKey, generateCosignKeyPair, signBytes, verifyBytes, type PasswordSource } from './sign/keys.js';
export { simpleSigningPayload, parseSimpleSigning, dockerReference, SIMPLE_SIGNING_MEDIA_TYPE, SIGNATURE_ANNOTATION } from './sign/payload.js';
export { signatureTag, readSignatureManifest, appendSignature } from './sign/signature-manifest.js';
