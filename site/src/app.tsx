import { useEffect, useMemo, useState } from "preact/hooks";
import { Api } from "./api";
import type { AppConfig } from "./config";
import { LANGS, type Lang, setLang, t, useLang } from "./i18n";
import { JobUpdates } from "./realtime";
import { navigate, onLink, usePath } from "./router";
import { Session } from "./session";
import { Create } from "./views/Create";
import { Gallery } from "./views/Gallery";
import { ImagePage } from "./views/ImagePage";
import { Profile } from "./views/Profile";
import { SignIn } from "./views/SignIn";
import { WeatherView } from "./views/WeatherView";

export interface Services {
  config: AppConfig;
  session: Session;
  api: Api;
  updates: JobUpdates;
}

const PAGES = [
  { path: "/", label: "navCreate" },
  { path: "/gallery", label: "navGallery" },
  { path: "/weather", label: "navWeather" },
  { path: "/profile", label: "navProfile" },
] as const;

export function App({ config }: { config: AppConfig }) {
  const services = useMemo<Services>(() => {
    const session = new Session(config);
    const api = new Api(config, session);
    return { config, session, api, updates: new JobUpdates(config, session, api) };
  }, [config]);
  const { session, updates } = services;
  const [ready, setReady] = useState(false);
  const [signedIn, setSignedIn] = useState(false);
  const lang = useLang();
  const path = usePath();

  useEffect(() => session.subscribe(() => setSignedIn(session.signedIn)), [session]);
  useEffect(() => {
    session.resume().catch(() => undefined).finally(() => setReady(true));
  }, [session]);
  useEffect(() => {
    if (!signedIn) return;
    void updates.connect();
    return () => updates.close();
  }, [signedIn, updates]);
  useEffect(() => {
    const title = document.querySelector("main h1")?.textContent;
    document.title = title ? `${title} · Mumble` : "Mumble";
  });

  const languages = (
    <label class="lang">
      <span>{t("language")}</span>
      <select value={lang} onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)}>
        {LANGS.map((option) => <option value={option.code} key={option.code}>{option.label}</option>)}
      </select>
    </label>
  );

  if (!ready) return <p class="center" role="status">{t("loading")}</p>;
  if (!signedIn) {
    return (
      <>
        <header class="bar"><span class="brand">Mumble</span>{languages}</header>
        <main id="main"><SignIn services={services} /></main>
      </>
    );
  }
  const image = path.match(/^\/images\/([^/]+)$/);
  let page;
  if (image) page = <ImagePage services={services} imageId={decodeURIComponent(image[1])} />;
  else if (path === "/gallery") page = <Gallery services={services} />;
  else if (path === "/weather") page = <WeatherView services={services} />;
  else if (path === "/profile") page = <Profile services={services} />;
  else page = <Create services={services} />;

  return (
    <>
      <a class="skip" href="#main">{lang === "en" ? "Skip to content" : "跳到正文"}</a>
      <header class="bar">
        <a class="brand" href="/" onClick={onLink}>Mumble</a>
        <nav aria-label={t("mainNav")}>
          {PAGES.map((entry) => (
            <a key={entry.path} href={entry.path} onClick={onLink}
               aria-current={path === entry.path || (entry.path === "/gallery" && !!image) ? "page" : undefined}>
              {t(entry.label)}
            </a>
          ))}
        </nav>
        <div class="account">
          {languages}
          <span class="who">{session.email}</span>
          <button type="button" class="secondary" onClick={() => { void session.signOut(); navigate("/"); }}>
            {t("signOut")}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}
