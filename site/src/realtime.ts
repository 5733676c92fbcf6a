// Job updates: pushed over the stage's WebSocket ({"type": "job", ...}); the socket reconnects with backoff, and a
// job is also polled (GET /jobs/{id}) — slowly while the socket is open, every 2 s while it is not — so an update
// the socket missed still arrives.
import type { Api, Job } from "./api";
import type { AppConfig } from "./config";
import type { Session } from "./session";

const POLL_CONNECTED_MS = 8000;
const POLL_DISCONNECTED_MS = 2000;
const MAX_BACKOFF_MS = 15000;

export type Transport = "websocket" | "polling";

export class JobUpdates {
  private socket: WebSocket | null = null;
  private backoff = 500;
  private closed = false;
  private waiters = new Map<string, (job: Job) => void>();
  private listeners = new Set<(transport: Transport) => void>();

  constructor(private readonly config: AppConfig, private readonly session: Session, private readonly api: Api) {}

  get transport(): Transport {
    return this.socket?.readyState === WebSocket.OPEN ? "websocket" : "polling";
  }

  onTransport(listener: (transport: Transport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private announce(): void {
    this.listeners.forEach((listener) => listener(this.transport));
  }

  async connect(): Promise<void> {
    this.closed = false;
    const token = await this.session.idToken().catch(() => null);
    if (!token || this.closed) return;
    const socket = new WebSocket(`${this.config.websocketUrl}?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.onopen = () => {
      this.backoff = 500;
      this.announce();
    };
    socket.onmessage = (event) => {
      try {
        const message = JSON.parse(String(event.data)) as { type?: string } & Job;
        if (message.type === "job") this.settle(message);
      } catch {
        /* not ours */
      }
    };
    socket.onclose = () => {
      if (this.socket === socket) this.socket = null;
      this.announce();
      if (!this.closed) {
        setTimeout(() => void this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      }
    };
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
    this.socket = null;
  }

  private settle(job: Job): void {
    if (job.status === "succeeded" || job.status === "failed") this.waiters.get(job.jobId)?.(job);
  }

  /** Resolves with the finished job, whichever of push or poll sees it first. */
  finished(jobId: string, signal?: AbortSignal): Promise<Job> {
    return new Promise((resolve, reject) => {
      let timer = 0;
      const done = (job: Job) => {
        clearTimeout(timer);
        this.waiters.delete(jobId);
        resolve(job);
      };
      this.waiters.set(jobId, done);
      const poll = async () => {
        if (!this.waiters.has(jobId)) return;
        try {
          this.settle(await this.api.job(jobId));
        } catch (error) {
          if ((error as { status?: number }).status === 401) {
            this.waiters.delete(jobId);
            return reject(error);
          }
        }
        if (this.waiters.has(jobId)) {
          timer = window.setTimeout(poll, this.transport === "websocket" ? POLL_CONNECTED_MS : POLL_DISCONNECTED_MS);
        }
      };
      timer = window.setTimeout(poll, this.transport === "websocket" ? POLL_CONNECTED_MS : POLL_DISCONNECTED_MS);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        this.waiters.delete(jobId);
      });
    });
  }
}
