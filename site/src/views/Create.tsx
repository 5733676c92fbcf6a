import { useEffect, useRef, useState } from "preact/hooks";
import { type Image, putWithProgress } from "../api";
import type { Services } from "../app";
import { describe } from "../errors";
import { t } from "../i18n";
import { currentLocation } from "../location";
import { MAX_SECONDS, MicrophoneDenied, Recorder } from "../recorder";
import { onLink } from "../router";
import { ImageDetails } from "./ImageDetails";

type Stage =
  | { name: "idle" }
  | { name: "recording"; seconds: number; level: number }
  | { name: "recorded"; clip: Blob; seconds: number; url: string }
  | { name: "uploading"; percent: number }
  | { name: "submitting" }
  | { name: "waiting" }
  | { name: "done"; image: Image }
  | { name: "failed"; message: string };

export function Create({ services }: { services: Services }) {
  const { api, updates } = services;
  const [stage, setStage] = useState<Stage>({ name: "idle" });
  const [text, setText] = useState("");
  const [micProblem, setMicProblem] = useState<string | null>(null);
  const [useLocation, setUseLocation] = useState(true);
  const [transport, setTransport] = useState(updates.transport);
  const recorder = useRef<Recorder | null>(null);
  const ticker = useRef(0);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => updates.onTransport(setTransport), [updates]);
  useEffect(() => () => {
    clearInterval(ticker.current);
    recorder.current?.cancel();
    abort.current?.abort();
  }, []);

  async function record() {
    const next = new Recorder();
    try {
      await next.start();
    } catch (error) {
      setMicProblem(t("micDenied", { detail: error instanceof MicrophoneDenied ? error.message : String(error) }));
      return;
    }
    recorder.current = next;
    setMicProblem(null);
    setStage({ name: "recording", seconds: 0, level: 0 });
    ticker.current = window.setInterval(() => {
      const seconds = next.elapsedSeconds;
      if (seconds >= MAX_SECONDS) void stop();
      else setStage({ name: "recording", seconds, level: next.level() });
    }, 100);
  }

  async function stop() {
    clearInterval(ticker.current);
    const active = recorder.current;
    if (!active) return;
    const seconds = active.elapsedSeconds;
    recorder.current = null;
    const clip = await active.stop();
    setStage({ name: "recorded", clip, seconds, url: URL.createObjectURL(clip) });
  }

  async function generate(clip: Blob | null) {
    abort.current = new AbortController();
    const idempotencyKey = crypto.randomUUID(); // one per attempt: a network retry of it cannot make two pictures
    try {
      const location = useLocation ? await currentLocation().catch(() => undefined) : undefined;
      let request: { audioKey?: string; text?: string; location?: { lat: number; lon: number } };
      if (clip) {
        setStage({ name: "uploading", percent: 0 });
        const ticket = await api.uploadTicket(clip.type || "audio/webm", clip.size);
        await putWithProgress(ticket, clip, (fraction) =>
          setStage({ name: "uploading", percent: Math.round(fraction * 100) }));
        request = { audioKey: ticket.audioKey, location };
      } else {
        request = { text: text.trim(), location };
      }
      setStage({ name: "submitting" });
      const { jobId } = await api.generate(request, idempotencyKey);
      setStage({ name: "waiting" });
      const job = await updates.finished(jobId, abort.current.signal);
      if (job.status === "failed" || !job.imageId) {
        setStage({ name: "failed", message: t("jobFailed", { reason: job.error ?? job.status }) });
        return;
      }
      setStage({ name: "done", image: await api.image(job.imageId) });
    } catch (error) {
      setStage({ name: "failed", message: describe(error) });
    }
  }

  const busy = ["uploading", "submitting", "waiting"].includes(stage.name);
  return (
    <section>
      <h1>{t("createTitle")}</h1>
      <p class="muted">{t("tagline")}</p>

      <div class="card">
        {stage.name === "recording" ? (
          <div class="recording" aria-live="polite">
            <p>{t("recordingFor", { seconds: Math.floor(stage.seconds), max: MAX_SECONDS })}</p>
            <meter min={0} max={1} value={stage.level} aria-label={t("level")} />
            <button type="button" class="stop" onClick={() => void stop()}>{t("stop")}</button>
          </div>
        ) : stage.name === "recorded" ? (
          <div>
            <p>{t("clipReady", { seconds: stage.seconds.toFixed(1) })}</p>
            <audio controls src={stage.url} />
            <div class="row">
              <button type="button" onClick={() => void generate(stage.clip)}>{t("generate")}</button>
              <button type="button" class="secondary" onClick={() => setStage({ name: "idle" })}>{t("discard")}</button>
            </div>
          </div>
        ) : (
          <button type="button" class="record" disabled={busy} onClick={() => void record()}>● {t("record")}</button>
        )}
        {micProblem && <p role="alert" class="error">{micProblem}</p>}
      </div>

      <form class="card" onSubmit={(e) => { e.preventDefault(); void generate(null); }}>
        <h2>{t("typeInstead")}</h2>
        <label>{t("promptLabel")}
          <textarea name="prompt" rows={3} maxLength={2000} required value={text}
                    onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={useLocation}
                 onChange={(e) => setUseLocation((e.currentTarget as HTMLInputElement).checked)} />
          {t("useLocation")}
        </label>
        <button type="submit" disabled={busy || stage.name === "recording" || !text.trim()}>{t("generate")}</button>
      </form>

      <div aria-live="polite">
        {stage.name === "uploading" && (
          <p role="status">{t("uploading", { percent: stage.percent })}
            <progress max={100} value={stage.percent} /></p>
        )}
        {stage.name === "submitting" && <p role="status">{t("submitting")}</p>}
        {stage.name === "waiting" && (
          <p role="status" class="waiting">{t("waiting")} <span class="muted small">
            ({transport === "websocket" ? t("viaWebSocket") : t("viaPolling")})</span></p>
        )}
        {stage.name === "failed" && <p role="alert" class="error">{stage.message}</p>}
        {stage.name === "done" && (
          <article class="card result" ref={(element) => element?.scrollIntoView({ block: "nearest" })}>
            <h2>{t("result")}</h2>
            <ImageDetails image={stage.image} />
            <div class="row">
              <a class="button" href={`/images/${encodeURIComponent(stage.image.imageId)}`} onClick={onLink}>
                {t("openImage")}
              </a>
              <button type="button" class="secondary" onClick={() => { setText(""); setStage({ name: "idle" }); }}>
                {t("again")}
              </button>
            </div>
          </article>
        )}
      </div>
    </section>
  );
}
