// A small SQL highlighter: splits text into tokens the SQL editor colours (keywords, strings,
// numbers, comments, `{{ }}` bindings). It only colours; the text is sent as typed.

export type TokenKind = "keyword" | "string" | "number" | "comment" | "binding" | "plain";
export type Token = { kind: TokenKind; text: string };

const KEYWORDS = new Set(
  (
    "select from where and or not in is null like ilike as order by group having limit offset insert into values update set " +
    "delete returning join left right inner outer full cross on union all distinct case when then else end create table " +
    "alter drop index primary key references default with asc desc true false between exists count sum avg min max coalesce"
  ).split(" "),
);

const PATTERN = /(\{\{[\s\S]*?(?:\}\}|$))|(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|([\s\S])/g;

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, text: string) => {
    const last = tokens[tokens.length - 1];
    if (last && last.kind === kind && kind === "plain") last.text += text;
    else tokens.push({ kind, text });
  };
  for (const m of sql.matchAll(PATTERN)) {
    if (m[1] !== undefined) push("binding", m[1]);
    else if (m[2] !== undefined) push("comment", m[2]);
    else if (m[3] !== undefined) push("string", m[3]);
    else if (m[4] !== undefined) push("number", m[4]);
    else if (m[5] !== undefined) push(KEYWORDS.has(m[5].toLowerCase()) ? "keyword" : "plain", m[5]);
    else push("plain", m[0]);
  }
  return tokens;
}
