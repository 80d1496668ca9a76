/**
 * Proof of structure ("one place for each fact"): the source itself is read
 * with the TypeScript parser, and
 * - no string, template or regular-expression literal outside lib/lake/layout.ts
 *   spells a lake key (raw/, parquet/, runs/, locks/, quarantine/, removed/,
 *   _manifest/, _index/, _state/, dac=, wmo=, year=);
 * - no literal outside lib/argo/filename.ts (and the layout's README block) spells an Argo file name
 *   (_meta.nc, _prof.nc, _Sprof.nc, profiles/, the R/D/BR/BD/SR/SD prefixes);
 * - lib/netcdf imports nothing of Argo (only itself, lib/errors.ts and packages);
 * - the README's "Lake layout" block is the layout module's LAKE_LAYOUT.
 * Each rule is also run on a planted violation, so the checks can fail.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { LAKE_LAYOUT } from "../lib/lake/layout.ts";

const repo = resolve(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(repo, join(e.parentPath, e.name)));
}

/** Every literal's text (strings, template pieces, regexes) with its line, comments excluded by the parser. */
function literals(file: string, text: string): Array<{ line: number; text: string }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Array<{ line: number; text: string }> = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return; // module specifiers are paths, not keys
    if (
      ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node) || ts.isRegularExpressionLiteral(node)
    ) {
      // A regex's escapes (\/ \.) are read as the characters they match.
      const t = ts.isRegularExpressionLiteral(node) ? node.getText().replace(/\\([^A-Za-z0-9])/g, "$1") : node.getText();
      out.push({ line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: t });
    }
    if (ts.isCallExpression(node) && node.expression.getText() === "import") return;
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Import specifiers of a file (static and dynamic). */
function imports(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push(node.arguments[0].text);
    }
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const LAKE_KEY = /(^|[^A-Za-z0-9_.-])(raw|parquet|runs|locks|quarantine|removed)\/|_manifest\/|_index\/|_state\/|(^|[^A-Za-z0-9_])(dac|wmo|year)=/;
// "profiles/" followed by a file prefix, a substitution or a pattern (an HTTP route's /profiles/{cycle} is not a file name).
const ARGO_NAME = /_(meta|prof|Sprof|tech|[RD]traj)\.nc|profiles\/([BS]?[RD][0-9<$]|\$\{|\(|\[|\*)|\bBR\b.*\bBD\b|\[BS\]\?|\(R\|D\|BR/;

/** The grammar, and the layout's README block (which shows the names below a float folder). */
const ARGO_NAME_OWNERS = ["lib/argo/filename.ts", "lib/lake/layout.ts"];

/** Violations of one pattern in the given files, except the module that owns it. */
function spelled(files: Array<{ file: string; text: string }>, pattern: RegExp, owners: readonly string[]): string[] {
  return files.filter((f) => !owners.includes(f.file)).flatMap((f) =>
    literals(f.file, f.text).filter((l) => pattern.test(l.text)).map((l) => `${f.file}:${l.line}: ${l.text.slice(0, 100)}`)
  );
}

/** lib/netcdf imports that leave it (other than lib/errors.ts and packages). */
function netcdfEscapes(files: Array<{ file: string; text: string }>): string[] {
  return files.filter((f) => f.file.startsWith("lib/netcdf/")).flatMap((f) =>
    imports(f.file, f.text).filter((spec) => {
      if (!spec.startsWith(".")) return false;
      const target = relative(repo, resolve(repo, dirname(f.file), spec));
      return !target.startsWith("lib/netcdf/") && target !== "lib/errors.ts";
    }).map((spec) => `${f.file} imports ${spec}`)
  );
}

const code = ["lib", "jobs", "lake"].flatMap(sourceFiles).map((file) => ({ file, text: readFileSync(join(repo, file), "utf8") }));

describe("one place for each fact", () => {
  it("finds the source files it checks", () => {
    expect(code.length).toBeGreaterThan(50);
    expect(code.some((f) => f.file === "lib/lake/layout.ts")).toBe(true);
  });

  it("spells lake keys only in lib/lake/layout.ts", () => {
    expect(spelled(code, LAKE_KEY, ["lib/lake/layout.ts"])).toEqual([]);
  });

  it("spells Argo file names only in lib/argo/filename.ts", () => {
    expect(spelled(code, ARGO_NAME, ARGO_NAME_OWNERS)).toEqual([]);
  });

  it("keeps lib/netcdf free of Argo: it imports only itself, lib/errors.ts and packages", () => {
    expect(netcdfEscapes(code)).toEqual([]);
  });

  it("the checks catch planted violations", () => {
    const planted = [
      { file: "lib/x.ts", text: "// raw/dac= in a comment is fine\nconst k = `raw/dac=${d}/`;\nconst r = /^parquet\\/_state\\//;\nconst q = 'quarantine/' + x;\n" },
      { file: "lib/y.ts", text: "const m = `${wmo}_meta.nc`;\nconst p = /^profiles\\/(R|D|BR|BD)/;\n" },
      { file: "lib/netcdf/z.ts", text: 'import { isDac } from "../argo/ids.ts";\nconst h = await import("../argo/file.ts");\nimport { ParseError } from "../errors.ts";\n' },
    ];
    expect(spelled(planted, LAKE_KEY, ["lib/lake/layout.ts"])).toEqual([
      "lib/x.ts:2: `raw/dac=${",
      "lib/x.ts:3: /^parquet/_state//",
      "lib/x.ts:4: 'quarantine/'",
    ]);
    expect(spelled(planted, ARGO_NAME, ARGO_NAME_OWNERS)).toHaveLength(2);
    expect(netcdfEscapes(planted)).toEqual(["lib/netcdf/z.ts imports ../argo/ids.ts", "lib/netcdf/z.ts imports ../argo/file.ts"]);
  });

  it("the README's Lake layout block is lib/lake/layout.ts LAKE_LAYOUT", () => {
    const readme = readFileSync(join(repo, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Lake layout"));
    const block = /```\n([\s\S]*?)```/.exec(section)![1];
    expect(block.trimEnd()).toBe(LAKE_LAYOUT.trimEnd());
  });
});
