/**
 * Facts about the wire that both ends share: the server listens here unless
 * told otherwise (src/config.ts), and the SDK and CLI dial here when an
 * address has no port (src/client/address.ts).
 */

/** The gRPC port of iris-serve. */
export const DEFAULT_GRPC_PORT = 50051;
