// Chinese names of the API's enum values that every screen shows. A
// screen's own enums (work-item kinds, handover tracks, ...) are named in
// the screen's file; an unnamed value shows as it came.
import type { Schemas } from "./api";
import type { Role } from "./session";

export const roleNames: Record<Role, string> = {
  admin: "系统管理员",
  bureau: "社保经办机构",
  clerk: "社区专干",
  enterprise: "企业",
  service: "系统服务",
  street: "街道（乡镇）",
  district: "区（县）",
  archivist: "档案管理员",
};

export const statusNames: Record<Schemas["v1RetireeStatus"], string> = {
  RETIREE_STATUS_UNSPECIFIED: "未知",
  LIVING: "健在",
  DECEASED: "已故",
  MOVED_OUT: "已迁出",
  LOST_CONTACT: "失联",
  IMPRISONED: "服刑",
  ABROAD: "定居国外",
};

export const flagNames: Record<Schemas["v1RetireeFlag"], string> = {
  RETIREE_FLAG_UNSPECIFIED: "未知",
  AGED_80_PLUS: "80岁以上",
  AGED_90_PLUS: "90岁以上",
  LIVING_ALONE: "独居",
  EMPTY_NEST: "空巢",
  DISABLED: "失能",
  DEMENTIA: "失智",
  BEREAVED_PARENT: "失独",
  HARDSHIP: "困难",
  SERIOUS_ILLNESS: "大病",
  MODEL_WORKER: "劳模",
  VETERAN: "退役军人",
};

/** The flags a clerk sets; the age flags are computed from the birth date. */
export const settableFlags: Schemas["v1RetireeFlag"][] = [
  "LIVING_ALONE",
  "EMPTY_NEST",
  "DISABLED",
  "DEMENTIA",
  "BEREAVED_PARENT",
  "HARDSHIP",
  "SERIOUS_ILLNESS",
  "MODEL_WORKER",
  "VETERAN",
];

export const managementNames: Record<Schemas["v1ManagementMode"], string> = {
  MANAGEMENT_MODE_UNSPECIFIED: "未知",
  ENTERPRISE: "企业管理",
  COMMUNITY: "社区管理",
  BUREAU: "社保机构管理",
};

export const residenceNames: Record<Schemas["v1ResidenceKind"], string> = {
  KIND_UNSPECIFIED: "未知",
  LOCAL: "本地",
  OTHER_CITY: "外市",
  OTHER_PROVINCE: "外省",
  ABROAD: "国外",
};

/** Certification channels, as the bureau and the clerks call them. */
export const methodNames: Record<Schemas["v1CertificationMethod"], string> = {
  CERTIFICATION_METHOD_UNSPECIFIED: "未知",
  IN_PERSON: "现场认证",
  HOME_VISIT: "上门认证",
  FACE_APP: "人脸识别（手机应用）",
  REMOTE_FACE: "远程人脸识别",
  DATA_MATCH: "数据比对",
  CONSULAR: "领事认证（境外）",
  OTHER_REGION: "异地协助认证",
  ACTIVITY: "活动中认证",
  PENSION_START: "首月待遇视同认证",
};

/** The bureau's entitlement decision. */
export const entitlementNames: Record<Schemas["v1EntitlementState"], string> = {
  ENTITLEMENT_STATE_UNSPECIFIED: "未知",
  ACTIVE: "正常发放",
  SUSPENDED: "暂停发放",
  STOPPED: "终止发放",
};

/** The Chinese name of value in names, or the value itself. */
export function named<K extends string>(names: Record<K, string>, value: K | undefined): string {
  if (!value) return "";
  return names[value] ?? value;
}

/** Money in fen as yuan: 123456 → "¥1,234.56". */
export function yuan(fen: string | number | undefined): string {
  const n = Number(fen ?? 0);
  const sign = n < 0 ? "-" : "";
  const abs = Math.abs(n);
  const y = Math.floor(abs / 100).toLocaleString("zh-CN");
  return `${sign}¥${y}.${String(abs % 100).padStart(2, "0")}`;
}

/** An RFC 3339 time as a China date and time: "2026-12-07 09:30". */
export function dateTime(t: string | undefined): string {
  if (!t) return "";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  return d.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).replace(/\//g, "-");
}

/** Today's date in China, YYYY-MM-DD. */
export function chinaToday(): string {
  return new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });
}

/**
 * The age on today's China date of a birth date YYYY-MM-DD, as "86岁"
 * ("" when unknown). Lists show it instead of the birth date, which with
 * a masked ID number would give the full number back.
 */
export function age(birthDate: string | undefined): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(birthDate ?? "");
  if (!m) return "";
  const [y, md] = [Number(chinaToday().slice(0, 4)), chinaToday().slice(5)];
  const years = y - Number(m[1]) - (md < `${m[2]}-${m[3]}` ? 1 : 0);
  return years >= 0 ? `${years}岁` : "";
}
