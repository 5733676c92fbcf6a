import { useEffect, useRef, useState } from "preact/hooks";
import type { Image } from "../api";
import type { Services } from "../app";
import { describe } from "../errors";
import { formatDate, t } from "../i18n";
import { onLink } from "../router";

export function Gallery({ services }: { services: Services }) {
  const { api } = services;
  const [items, setItems] = useState<Image[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined); // undefined: first page not asked yet
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const more = cursor !== null;

  async function load() {
    if (loading || cursor === null) return;
    setLoading(true);
    setError(null);
    try {
      const page = await api.gallery(cursor);
      setItems((shown) => [...shown, ...page.items.filter((item) => !shown.some((s) => s.imageId === item.imageId))]);
      setCursor(page.nextCursor);
    } catch (caught) {
      setError(describe(caught));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => void load(), []);
  useEffect(() => {
    if (!sentinel.current || !more) return;
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void load());
    observer.observe(sentinel.current);
    return () => observer.disconnect();
  });

  return (
    <section>
      <h1>{t("galleryTitle")}</h1>
      {error && <p role="alert" class="error">{error} <button type="button" class="link" onClick={() => void load()}>{t("retry")}</button></p>}
      {!loading && !error && cursor === null && items.length === 0 && <p>{t("empty")}</p>}
      <ul class="grid" aria-busy={loading}>
        {items.map((image) => (
          <li key={image.imageId}>
            <a href={`/images/${encodeURIComponent(image.imageId)}`} onClick={onLink}>
              {(image.thumbnailUrl ?? image.imageUrl)
                ? <img src={(image.thumbnailUrl ?? image.imageUrl)!} alt={image.transcription ?? image.prompt ?? ""} loading="lazy" />
                : <span class="placeholder" aria-hidden="true" />}
              <span class="caption">{image.transcription ?? image.prompt ?? ""}</span>
              <span class="muted small">{formatDate(image.createdAt)}</span>
            </a>
          </li>
        ))}
      </ul>
      <div ref={sentinel} />
      {loading && <p role="status">{t("loading")}</p>}
      {!loading && more && cursor !== undefined && (
        <button type="button" class="secondary" onClick={() => void load()}>{t("loadMore")}</button>
      )}
      {cursor === null && items.length > 0 && <p class="muted small">{t("theEnd")}</p>}
    </section>
  );
}
