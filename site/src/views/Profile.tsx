import { useEffect, useState } from "preact/hooks";
import type { Profile as ProfileData } from "../api";
import type { Services } from "../app";
import { describe } from "../errors";
import { formatDate, t } from "../i18n";

export function Profile({ services }: { services: Services }) {
  const { api } = services;
  const [profile, setProfile] = useState<ProfileData | null>(null);
  const [displayName, setDisplayName] = useState("");
  const [city, setCity] = useState("");
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.profile().then((found) => {
      setProfile(found);
      setDisplayName(found.displayName ?? "");
      setCity(String(found.preferences?.city ?? found.location?.city ?? ""));
    }, (caught) => setMessage({ text: describe(caught), error: true }));
  }, []);

  async function save(event: Event) {
    event.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      const changes: Partial<ProfileData> = {};
      if (displayName.trim()) changes.displayName = displayName.trim();
      if (city.trim() !== String(profile?.preferences?.city ?? "")) {
        changes.preferences = { ...(profile?.preferences ?? {}), city: city.trim() };
      }
      if (Object.keys(changes).length) setProfile(await api.saveProfile(changes));
      setMessage({ text: t("saved"), error: false });
    } catch (caught) {
      setMessage({ text: describe(caught), error: true });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1>{t("profileTitle")}</h1>
      {!profile && !message && <p role="status">{t("loading")}</p>}
      {message && <p role={message.error ? "alert" : "status"} class={message.error ? "error" : "notice"}>{message.text}</p>}
      {profile && (
        <form class="card narrow" onSubmit={save}>
          <p class="muted">{profile.email}</p>
          {profile.createdAt && <p class="muted small">{t("memberSince", { date: formatDate(profile.createdAt) })}</p>}
          <label>{t("displayName")}
            <input name="displayName" maxLength={80} value={displayName}
                   onInput={(e) => setDisplayName((e.currentTarget as HTMLInputElement).value)} />
          </label>
          <label>{t("city")}
            <input name="city" maxLength={120} value={city}
                   onInput={(e) => setCity((e.currentTarget as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={busy}>{busy ? t("working") : t("save")}</button>
        </form>
      )}
    </section>
  );
}
