// Simplified Chinese first (Mumble's users speak it), English as the fallback; chosen from the browser's languages,
// switchable, the choice kept in localStorage.
import { useEffect, useState } from "preact/hooks";

const en = {
  appName: "Mumble",
  tagline: "Say something. Get a picture of it, with the weather where you are.",
  navCreate: "Create", navGallery: "Gallery", navWeather: "Weather", navProfile: "Profile", signOut: "Sign out",
  language: "Language", mainNav: "Main",
  signInTitle: "Sign in", email: "Email", password: "Password", signIn: "Sign in", working: "Working…",
  createAccount: "Create an account", haveAccount: "I have an account", forgot: "Forgot password?",
  signUpTitle: "Create an account", signUp: "Sign up", passwordRule: "At least 10 characters with upper and lower case letters and a digit.",
  confirmTitle: "Confirm your email", code: "Confirmation code", confirm: "Confirm", resend: "Send the code again",
  codeSent: "We sent a code to {email}.", confirmed: "Email confirmed. Sign in now.",
  forgotTitle: "Reset your password", sendCode: "Send a code", newPassword: "New password", resetPassword: "Set password",
  resetDone: "Password changed. Sign in with the new one.",
  errWrongCredentials: "Wrong email or password.", errNotConfirmed: "This account is not confirmed yet: enter the code we emailed.",
  errExpired: "Your session has ended. Please sign in again.", errSignedOut: "You are signed out.",
  errExists: "An account with this email already exists.", errPassword: "That password is not allowed: {detail}",
  errLegacyPassword: "Your password from the old Mumble does not meet the new rules: choose “Forgot password?” to set a new one.",
  errCode: "That code is wrong or has expired.", errNetwork: "Cannot reach the service. Check your connection and try again.",
  errLimit: "Too many attempts. Wait a moment and try again.", errGeneric: "Something went wrong: {detail}",
  errConfig: "This site is not configured (config.json): {detail}",
  createTitle: "Create", record: "Record", stop: "Stop", recordingFor: "Recording: {seconds} s of {max} s",
  level: "Microphone level", micDenied: "The microphone is not available ({detail}). Type what you want to see instead.",
  typeInstead: "Or type it", promptLabel: "What should the picture show?", useLocation: "Use my location for the weather",
  generate: "Generate", uploading: "Uploading… {percent}%", submitting: "Sending…",
  waiting: "Making your picture…", viaWebSocket: "live updates", viaPolling: "checking every few seconds",
  jobFailed: "The picture could not be made: {reason}", result: "Your picture", transcription: "What you said",
  weather: "Weather", openImage: "Open", again: "Make another", clipReady: "Clip recorded: {seconds} s",
  discard: "Discard",
  galleryTitle: "Gallery", empty: "No pictures yet. Make one!", loadMore: "Load more", loading: "Loading…",
  theEnd: "That is everything.",
  imageTitle: "Picture", back: "Back to the gallery", delete: "Delete", confirmDelete: "Delete this picture for good?",
  cancel: "Cancel", notFound: "This picture does not exist (any more).", created: "Made {date}", prompt: "Prompt",
  profileTitle: "Profile", displayName: "Display name", city: "City", save: "Save", saved: "Saved.",
  memberSince: "Member since {date}",
  weatherTitle: "Weather here", locate: "Show the weather here", locationDenied: "Location is not available ({detail}).",
  temperature: "{value} °C", humidity: "Humidity {value}%", wind: "Wind {value} m/s",
  retry: "Try again",
};

type Key = keyof typeof en;

const zh: Record<Key, string> = {
  appName: "Mumble",
  tagline: "说点什么，就能得到一幅画——还带着你所在地的天气。",
  navCreate: "创作", navGallery: "画廊", navWeather: "天气", navProfile: "个人资料", signOut: "退出登录",
  language: "语言", mainNav: "主导航",
  signInTitle: "登录", email: "邮箱", password: "密码", signIn: "登录", working: "请稍候…",
  createAccount: "注册新账户", haveAccount: "已有账户", forgot: "忘记密码？",
  signUpTitle: "注册账户", signUp: "注册", passwordRule: "至少 10 位，包含大写字母、小写字母和数字。",
  confirmTitle: "验证邮箱", code: "验证码", confirm: "确认", resend: "重新发送验证码",
  codeSent: "验证码已发送至 {email}。", confirmed: "邮箱已验证，请登录。",
  forgotTitle: "重置密码", sendCode: "发送验证码", newPassword: "新密码", resetPassword: "设置密码",
  resetDone: "密码已修改，请用新密码登录。",
  errWrongCredentials: "邮箱或密码错误。", errNotConfirmed: "该账户尚未验证：请输入邮件中的验证码。",
  errExpired: "登录已过期，请重新登录。", errSignedOut: "你已退出登录。",
  errExists: "该邮箱已注册。", errPassword: "密码不符合要求：{detail}",
  errLegacyPassword: "你在旧版 Mumble 的密码不符合新的密码规则：请点击“忘记密码？”设置新密码。",
  errCode: "验证码错误或已过期。", errNetwork: "无法连接服务，请检查网络后重试。",
  errLimit: "尝试次数过多，请稍后再试。", errGeneric: "出错了：{detail}",
  errConfig: "站点未配置（config.json）：{detail}",
  createTitle: "创作", record: "录音", stop: "停止", recordingFor: "录音中：{seconds} 秒 / {max} 秒",
  level: "麦克风音量", micDenied: "无法使用麦克风（{detail}）。请改为输入文字。",
  typeInstead: "或输入文字", promptLabel: "想让画面呈现什么？", useLocation: "使用我的位置获取天气",
  generate: "生成", uploading: "上传中… {percent}%", submitting: "提交中…",
  waiting: "正在生成图片…", viaWebSocket: "实时更新", viaPolling: "每隔几秒查询一次",
  jobFailed: "图片生成失败：{reason}", result: "你的图片", transcription: "你说的话",
  weather: "天气", openImage: "查看", again: "再来一张", clipReady: "已录制 {seconds} 秒",
  discard: "丢弃",
  galleryTitle: "画廊", empty: "还没有图片，快去创作吧！", loadMore: "加载更多", loading: "加载中…",
  theEnd: "已经到底了。",
  imageTitle: "图片", back: "返回画廊", delete: "删除", confirmDelete: "确定要永久删除这张图片吗？",
  cancel: "取消", notFound: "这张图片不存在（或已被删除）。", created: "创建于 {date}", prompt: "提示词",
  profileTitle: "个人资料", displayName: "昵称", city: "城市", save: "保存", saved: "已保存。",
  memberSince: "注册于 {date}",
  weatherTitle: "当地天气", locate: "查看当地天气", locationDenied: "无法获取位置（{detail}）。",
  temperature: "{value} °C", humidity: "湿度 {value}%", wind: "风速 {value} 米/秒",
  retry: "重试",
};

export type Lang = "zh-CN" | "en";
export const LANGS: { code: Lang; label: string }[] = [{ code: "zh-CN", label: "中文" }, { code: "en", label: "English" }];
const TABLES: Record<Lang, Record<Key, string>> = { "zh-CN": zh, en };
const LANG_KEY = "mumble.lang";

function initialLang(): Lang {
  const kept = localStorage.getItem(LANG_KEY);
  if (kept === "zh-CN" || kept === "en") return kept;
  for (const wanted of navigator.languages ?? [navigator.language]) {
    const lower = wanted.toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "zh-CN";
}

let current: Lang = initialLang();
const listeners = new Set<() => void>();
document.documentElement.lang = current;

export function setLang(lang: Lang): void {
  current = lang;
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
  listeners.forEach((listener) => listener());
}

export function t(key: Key, vars: Record<string, string | number> = {}): string {
  return TABLES[current][key].replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? ""));
}

export function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(current);
}

/** Re-render on a language switch. */
export function useLang(): Lang {
  const [lang, setState] = useState(current);
  useEffect(() => {
    const listener = () => setState(current);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return lang;
}
