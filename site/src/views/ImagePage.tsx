import { useEffect, useRef, useState } from "preact/hooks";
import type { Image } from "../api";
import type { Services } from "../app";
import { describe } from "../errors";
import { t } from "../i18n";
import { navigate, onLink } from "../router";
import { ImageDetails } from "./ImageDetails";

export function ImagePage({ services, imageId }: { services: Services; imageId: string }) {
  const { api } = services;
  const [image, setImage] = useState<Image | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    setImage(null);
    api.image(imageId).then(setImage, (caught) => setError(describe(caught)));
  }, [imageId]);

  async function remove() {
    setBusy(true);
    try {
      await api.deleteImage(imageId);
      dialog.current?.close();
      navigate("/gallery");
    } catch (caught) {
      dialog.current?.close();
      setError(describe(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <p><a href="/gallery" onClick={onLink}>← {t("back")}</a></p>
      <h1>{t("imageTitle")}</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {!image && !error && <p role="status">{t("loading")}</p>}
      {image && (
        <article class="card">
          <ImageDetails image={image} />
          <button type="button" class="danger" onClick={() => dialog.current?.showModal()}>{t("delete")}</button>
        </article>
      )}
      <dialog ref={dialog} aria-labelledby="confirm-delete">
        <p id="confirm-delete">{t("confirmDelete")}</p>
        <div class="row">
          <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>{t("delete")}</button>
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>{t("cancel")}</button>
        </div>
      </dialog>
    </section>
  );
}
