// The stage's HTTP API (same origin, `/api/v1`), with the session's id token. Errors keep the API's shape
// (`{error, message, field?}`; API Gateway's own: `{message}`).
import type { AppConfig } from "./config";
import type { Session } from "./session";

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

export interface UploadTicket {
  audioKey: string;
  upload: { url: string; method: "PUT"; headers: Record<string, string> };
  maxBytes: number;
}

export interface Weather {
  description: string;
  temperature: number;
  humidity?: number;
  windSpeed?: number;
  city?: string;
}

export interface Job {
  jobId: string;
  status: "queued" | "running" | "succeeded" | "failed" | string;
  imageId?: string;
  error?: string;
}

export interface Image {
  imageId: string;
  createdAt: string;
  prompt?: string;
  transcription?: string;
  weather?: Weather | null;
  imageUrl: string | null;
  thumbnailUrl: string | null;
  width?: number;
  height?: number;
}

export interface Profile {
  userId: string;
  email?: string;
  displayName?: string;
  avatarUrl?: string | null;
  location?: { lat: number; lon: number; city?: string } | null;
  preferences?: Record<string, unknown>;
  createdAt?: string;
}

export interface Location {
  lat: number;
  lon: number;
}

export class Api {
  constructor(private readonly config: AppConfig, private readonly session: Session) {}

  private async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}):
      Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = attempt === 0 ? await this.session.idToken() : await this.session.renewAfterRejection();
      if (!token) throw new ApiError(401, "SessionExpired", "session expired");
      let response: Response;
      try {
        response = await fetch(this.config.apiBase + path, {
          method,
          headers: {
            Authorization: `Bearer ${token}`, ...headers,
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch {
        throw new ApiError(0, "NetworkError", "network");
      }
      if (response.status === 401 && attempt === 0) continue;
      if (response.status === 204) return undefined as T;
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new ApiError(response.status, data.error ?? String(response.status), data.message ?? "", data.field);
      }
      return data as T;
    }
  }

  uploadTicket = (contentType: string, size: number) =>
    this.request<UploadTicket>("POST", "/audio/upload", { contentType, size });

  generate = (request: { audioKey?: string; text?: string; location?: Location }, idempotencyKey: string) =>
    this.request<{ jobId: string }>("POST", "/generate", request, { "Idempotency-Key": idempotencyKey });

  job = (jobId: string) => this.request<Job>("GET", `/jobs/${encodeURIComponent(jobId)}`);

  gallery = (cursor?: string | null) =>
    this.request<{ items: Image[]; nextCursor: string | null }>(
      "GET", `/images?limit=12${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);

  image = (imageId: string) => this.request<Image>("GET", `/images/${encodeURIComponent(imageId)}`);

  deleteImage = (imageId: string) => this.request<void>("DELETE", `/images/${encodeURIComponent(imageId)}`);

  profile = () => this.request<Profile>("GET", "/users/me");

  saveProfile = (changes: Partial<Profile>) => this.request<Profile>("PUT", "/users/me", changes);

  weather = (location: Location) =>
    this.request<Weather>("GET", `/weather?lat=${location.lat.toFixed(4)}&lon=${location.lon.toFixed(4)}`);
}

/** The presigned PUT, with progress (fetch has no upload progress; XMLHttpRequest does). */
export function putWithProgress(ticket: UploadTicket, blob: Blob, onProgress: (fraction: number) => void):
    Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", ticket.upload.url);
    for (const [name, value] of Object.entries(ticket.upload.headers)) {
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value); // the browser sets it
    }
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new ApiError(xhr.status, "UploadFailed", "upload")));
    xhr.onerror = () => reject(new ApiError(0, "NetworkError", "network"));
    xhr.send(blob);
  });
}
