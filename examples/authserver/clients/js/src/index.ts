export { AuthClient } from "./client.js";
export type { AuthClientOptions, FetchLike, Health, TokenPair, User } from "./client.js";
export {
  AuthClientError,
  AuthenticationError,
  ConflictError,
  PermissionDeniedError,
  ServerError,
  TransportError,
  ValidationError,
  errorForStatus,
} from "./errors.js";
