// A clip from the microphone: MediaRecorder for the bytes, an AnalyserNode for the level meter.
export const MAX_SECONDS = 60; // far below the API's 25 MB (Opus at ~32 kb/s is ~250 kB a minute)

export class MicrophoneDenied extends Error {}

export class Recorder {
  private recorder: MediaRecorder | null = null;
  private stream: MediaStream | null = null;
  private audio: AudioContext | null = null;
  private analyser: AnalyserNode | null = null;
  private chunks: Blob[] = [];
  private startedAt = 0;

  async start(): Promise<void> {
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      throw new MicrophoneDenied(String(error));
    }
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"]
      .find((candidate) => MediaRecorder.isTypeSupported(candidate));
    this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
    this.chunks = [];
    this.recorder.ondataavailable = (event) => event.data.size && this.chunks.push(event.data);
    this.audio = new AudioContext();
    this.analyser = this.audio.createAnalyser();
    this.analyser.fftSize = 512;
    this.audio.createMediaStreamSource(this.stream).connect(this.analyser);
    this.recorder.start(250);
    this.startedAt = performance.now();
  }

  get elapsedSeconds(): number {
    return this.recorder ? (performance.now() - this.startedAt) / 1000 : 0;
  }

  /** 0..1, the clip's loudness right now. */
  level(): number {
    if (!this.analyser) return 0;
    const samples = new Uint8Array(this.analyser.fftSize);
    this.analyser.getByteTimeDomainData(samples);
    let peak = 0;
    for (const sample of samples) peak = Math.max(peak, Math.abs(sample - 128));
    return Math.min(1, peak / 100);
  }

  stop(): Promise<Blob> {
    const recorder = this.recorder;
    if (!recorder) return Promise.reject(new Error("not recording"));
    return new Promise((resolve) => {
      recorder.onstop = () => {
        const type = (recorder.mimeType || "audio/webm").replace(/\s+/g, "");
        resolve(new Blob(this.chunks, { type }));
        this.release();
      };
      recorder.stop();
    });
  }

  cancel(): void {
    if (this.recorder?.state === "recording") this.recorder.stop();
    this.release();
  }

  private release(): void {
    this.stream?.getTracks().forEach((track) => track.stop());
    void this.audio?.close();
    this.recorder = this.stream = this.audio = this.analyser = null;
  }
}
