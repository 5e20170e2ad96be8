/** Base class of every error the client throws. */
export class AuthClientError extends Error {
  readonly status: number | undefined;
  readonly detail: unknown;

  constructor(message: string, status?: number, detail?: unknown) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.detail = detail;
  }
}

/** The server could not be reached (connection refused, timeout, ...). */
export class TransportError extends AuthClientError {}

/** 401: bad credentials, or a missing, expired or revoked token. */
export class AuthenticationError extends AuthClientError {}

/** 403: e.g. the account is inactive. */
export class PermissionDeniedError extends AuthClientError {}

/** 409: e.g. the email is already registered. */
export class ConflictError extends AuthClientError {}

/** 422: the server rejected the request body. */
export class ValidationError extends AuthClientError {}

/** 5xx: the server failed. */
export class ServerError extends AuthClientError {}

const BY_STATUS: Record<number, typeof AuthClientError> = {
  401: AuthenticationError,
  403: PermissionDeniedError,
  409: ConflictError,
  422: ValidationError,
};

/** Build the error matching an HTTP error response. */
export function errorForStatus(status: number, detail: unknown): AuthClientError {
  let message: string;
  if (typeof detail === "string") message = detail;
  else if (detail === undefined || detail === null) message = `HTTP ${status}`;
  else message = `HTTP ${status}: ${JSON.stringify(detail)}`;
  const Cls = status >= 500 ? ServerError : (BY_STATUS[status] ?? AuthClientError);
  return new Cls(message, status, detail);
}
