// compiler/driver/lsp.cpp: `cdr lsp`, the language server (docs/editors.md). The workspace
// is analysed by rule set: the files under one root (the nearest directory holding a
// `ruleset.cdr`, else the document's directory) are checked together, as `cdr lint ROOT`
// checks them, open documents' text over the files on disk. Every request is answered
// from the checker's model of the latest text (compiler/sema/types.h: Model::symbols).
#include "compiler/driver/lsp.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "compiler/format/format.h"
#include "compiler/syntax/parse.h"
#include "stdlib/functions.h"

namespace cdr::driver::lsp {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using source::SourceRange;

// JSON-RPC and LSP error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kServerNotInitialized = -32002;
constexpr int kRequestFailed = -32803;
constexpr int kInternalError = -32603;

// How the client counts characters in a line: UTF-16 code units (the protocol's default)
// or code points (`utf-32`, the checker's own columns).
enum class Encoding { Utf16, Utf32 };

// UTF-16 code units of a code point whose UTF-8 sequence starts with `lead` (columns count
// code points as source::CodePoints does: a continuation byte is none).
int64_t Utf16Units(unsigned char lead) {
  if ((lead & 0xC0) == 0x80) return 0;
  return lead >= 0xF0 ? 2 : 1;  // a 4-byte sequence is a surrogate pair
}

int64_t Utf16Units(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += Utf16Units(c);
  return n;
}

// The LSP character of the 1-based code-point column `column` of `line`.
int64_t ToCharacter(std::string_view line, int32_t column, Encoding enc) {
  if (column <= 1) return 0;
  if (enc == Encoding::Utf32) return column - 1;
  size_t at = source::ColumnOffset(line, column);
  if (at == std::string_view::npos)
    return Utf16Units(line) + (column - 1 - source::CodePoints(line));  // one per column past the end
  return Utf16Units(line.substr(0, at));
}

// The 1-based code-point column of LSP character `character` of `line`.
int32_t FromCharacter(std::string_view line, int64_t character, Encoding enc) {
  if (character <= 0) return 1;
  if (enc == Encoding::Utf32) return static_cast<int32_t>(character + 1);
  int64_t units = 0;
  int32_t cp = 1;
  for (size_t i = 0; i < line.size() && units < character; ++i) {
    int64_t u = Utf16Units(static_cast<unsigned char>(line[i]));
    if (u == 0) continue;
    units += u;
    ++cp;
  }
  return cp + static_cast<int32_t>(std::max<int64_t>(0, character - units));
}

// The byte offset in `line` of a 1-based code-point column, at most the line's end.
size_t ClampedColumnOffset(std::string_view line, int32_t column) {
  size_t at = source::ColumnOffset(line, column);
  return at == std::string_view::npos ? line.size() : at;
}

// The line `line` (0-based) of `text`, without its newline, and where it starts.
std::string_view LineOf(std::string_view text, int64_t line, size_t* start = nullptr) {
  size_t begin = 0;
  for (int64_t l = 0; l < line; ++l) {
    size_t nl = text.find('\n', begin);
    if (nl == std::string_view::npos) {
      begin = text.size();
      break;
    }
    begin = nl + 1;
  }
  size_t end = text.find('\n', begin);
  if (end == std::string_view::npos) end = text.size();
  if (start) *start = begin;
  std::string_view l = text.substr(begin, end - begin);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

// The byte offset of an LSP position in `text` (clamped to the text).
size_t Offset(std::string_view text, int64_t line, int64_t character, Encoding enc) {
  size_t start = 0;
  std::string_view l = LineOf(text, line, &start);
  return std::min(text.size(), start + ClampedColumnOffset(l, FromCharacter(l, character, enc)));
}

// ---- URIs -----------------------------------------------------------------------

std::string UriToPath(const std::string& uri) {
  std::string_view s = uri;
  if (s.rfind("file://", 0) != 0) return {};
  s.remove_prefix(7);
  if (!s.empty() && s[0] != '/') {  // file://host/path: the host is ignored (local files only)
    size_t slash = s.find('/');
    s = slash == std::string_view::npos ? std::string_view{} : s.substr(slash);
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return fs::path(out).lexically_normal().string();
}

std::string PathToUri(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (dir.back() == '/' || path[dir.size()] == '/');
}

bool Contains(const SourceRange& r, int32_t line, int32_t column) {
  if (line < r.line || line > r.end_line) return false;
  if (line == r.line && column < r.column) return false;
  if (line == r.end_line && column > r.end_column) return false;
  return true;
}

// How large a range is, lines first (to find the innermost of ranges that contain a point).
size_t Extent(const SourceRange& r) {
  return static_cast<size_t>(r.end_line - r.line) * 100000 + static_cast<size_t>(std::max(0, r.end_column - r.column));
}

// ---- one rule set --------------------------------------------------------------------

struct RuleSet {
  std::string root;
  std::unique_ptr<Frontend> fe;
  std::map<std::string, source::FileId> ids;         // path -> file of the analysis
  std::map<std::string, std::vector<size_t>> diags;  // path -> indices into fe->diags
  bool dirty = true;
  bool capped = false;  // the root holds more entries than a rule set is read from (said once)
  bool said = false;
};

struct Document {
  std::string text;
  int64_t version = 0;
};

std::string CodeText(const stdlib::FunctionInfo& f) {
  if (f.id == stdlib::Function::Arrived) return "arrived(SIGNAL)";
  if (f.aggregate) return fmt::format("{}(SIGNAL within DURATION)", f.name);
  std::string args;
  for (int i = 0; i < f.max_args; ++i) args += (i ? ", " : "") + std::string(1, static_cast<char>('a' + i));
  return fmt::format("{}({})", f.name, args);
}

}  // namespace

struct Server::Impl {
  Encoding enc = Encoding::Utf16;
  bool initialized = false, shutdown = false, exited = false;
  std::vector<std::string> folders;              // workspace folders, absolute
  std::map<std::string, Document> docs;          // open documents by path
  std::map<std::string, RuleSet> sets;           // by root; roots never nest
  std::map<std::string, std::string> published;  // uri -> the diagnostics last sent

  // ---- messages ----------------------------------------------------------------------

  static std::string Response(const json& id, json result) {
    return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}.dump();
  }
  static std::string Failure(const json& id, int code, const std::string& message) {
    return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}}.dump();
  }
  static std::string Notification(const std::string& method, json params) {
    return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}}.dump();
  }

  // ---- rule sets ---------------------------------------------------------------------

  // The root a document is analysed under: the nearest directory above it holding a
  // `ruleset.cdr` (not above its workspace folder), else its own directory; inside an
  // existing rule set, that set.
  std::string RootFor(const std::string& path) {
    for (const auto& [root, _] : sets) {
      if (Under(path, root)) return root;
    }
    fs::path dir = fs::path(path).parent_path();
    std::string limit;
    for (const auto& f : folders) {
      if (Under(path, f) && f.size() > limit.size()) limit = f;
    }
    std::string found;
    for (fs::path d = dir;; d = d.parent_path()) {
      std::error_code ec;
      if (fs::exists(d / "ruleset.cdr", ec)) {
        found = d.string();
        break;
      }
      if ((!limit.empty() && d.string() == limit) || d == d.parent_path()) break;
    }
    return found.empty() ? dir.string() : found;
  }

  void AddSet(const std::string& root) {
    for (const auto& [r, _] : sets) {
      if (r == root || Under(root, r)) return;
    }
    for (auto it = sets.begin(); it != sets.end();) {  // sets under the new root join it
      it = Under(it->first, root) ? sets.erase(it) : std::next(it);
    }
    sets[root].root = root;
  }

  RuleSet* SetOf(const std::string& path) {
    for (auto& [root, set] : sets) {
      if (Under(path, root)) return &set;
    }
    return nullptr;
  }

  // The rule sets of the workspace folders: every directory holding a `ruleset.cdr`.
  void ScanFolders() {
    for (const auto& folder : folders) {
      Walk(folder, kMaxScanEntries, [&](const fs::path& p) {
        if (p.filename() == "ruleset.cdr") AddSet(p.parent_path().lexically_normal().string());
      });
    }
  }

  // The regular files under `dir` (hidden directories and node_modules left out), at most
  // `budget` directory entries looked at: a folder opened by mistake (a home directory, /)
  // costs a bounded walk, not the whole disk on every keystroke.
  static constexpr size_t kMaxScanEntries = 20000;
  static constexpr size_t kMaxSetEntries = 5000;
  template <typename F>
  static bool Walk(const std::string& dir, size_t budget, F&& each) {
    std::error_code ec;
    size_t seen = 0;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (++seen > budget) return false;
      std::string name = it->path().filename().string();
      if (it->is_directory(ec)) {
        if (name.starts_with(".") || name == "node_modules") it.disable_recursion_pending();
      } else if (it->is_regular_file(ec)) {
        each(it->path());
      }
    }
    return true;
  }

  void Analyse(RuleSet& set) {
    std::set<std::string> paths;
    set.capped = !Walk(set.root, kMaxSetEntries, [&](const fs::path& p) {
      if (p.extension() == ".cdr") paths.insert(p.lexically_normal().string());
    });
    for (const auto& [path, _] : docs) {
      if (Under(path, set.root)) paths.insert(path);
    }
    set.fe = std::make_unique<Frontend>();
    set.ids.clear();
    set.diags.clear();
    for (const auto& path : paths) {
      // An open document's text; else the file, read as `cdr lint` reads it (a file over the
      // size limit is not read, one that cannot be read is an io-error diagnostic).
      if (auto d = docs.find(path); d != docs.end()) {
        set.fe->AddText(path, d->second.text);
      } else {
        set.fe->Load({path});
      }
      set.ids[path] = source::FileId{static_cast<int32_t>(set.fe->sources.size() - 1)};
      set.diags[path];
    }
    set.fe->Check();
    const auto& all = set.fe->diags.diagnostics();
    for (size_t i = 0; i < all.size(); ++i) {
      if (!all[i].range.file.valid()) continue;
      set.diags[set.fe->sources.Get(all[i].range.file).name()].push_back(i);
    }
    set.dirty = false;
  }

  // ---- positions -------------------------------------------------------------------

  json Position(const source::SourceFile& f, int32_t line, int32_t column) const {
    if (line <= 0) return {{"line", 0}, {"character", 0}};
    std::string_view text = line <= f.line_count() ? f.Line(line) : std::string_view{};
    return {{"line", line - 1}, {"character", ToCharacter(text, column, enc)}};
  }
  json Range(const source::SourceManager& sources, const SourceRange& r) const {
    if (!r.file.valid()) return {{"start", {{"line", 0}, {"character", 0}}}, {"end", {{"line", 0}, {"character", 0}}}};
    const source::SourceFile& f = sources.Get(r.file);
    return {{"start", Position(f, r.line, r.column)}, {"end", Position(f, r.end_line, r.end_column)}};
  }
  json Location(const source::SourceManager& sources, const SourceRange& r) const {
    return {{"uri", PathToUri(sources.Get(r.file).name())}, {"range", Range(sources, r)}};
  }

  // The rule set, file and 1-based line and column of a request's position; nullopt when
  // the document is not part of any analysis.
  struct At {
    RuleSet* set;
    source::FileId file;
    int32_t line, column;
  };
  std::optional<At> Locate(const json& params) {
    std::string path = UriToPath(params.at("textDocument").at("uri").get<std::string>());
    RuleSet* set = SetOf(path);
    if (!set || !set->fe) return std::nullopt;
    auto id = set->ids.find(path);
    if (id == set->ids.end()) return std::nullopt;
    At at{set, id->second, 0, 0};
    if (params.contains("position")) {
      int64_t line = params.at("position").at("line").get<int64_t>();
      const source::SourceFile& f = set->fe->sources.Get(id->second);
      std::string_view text = line + 1 <= f.line_count() ? f.Line(static_cast<int32_t>(line + 1)) : std::string_view{};
      at.line = static_cast<int32_t>(line + 1);
      at.column = FromCharacter(text, params.at("position").at("character").get<int64_t>(), enc);
    }
    return at;
  }

  // The syntax tree of a request's document.
  static const ast::File* FileOf(const At& at) {
    for (const auto& f : at.set->fe->files) {
      if (f.file == at.file) return &f;
    }
    return nullptr;
  }

  // The symbol written at a position (the innermost; a cursor just after a name counts).
  const sema::Symbol* SymbolAt(const At& at) const {
    const sema::Symbol* best = nullptr;
    for (const auto& s : at.set->fe->model.symbols) {
      if (s.use.file != at.file || !Contains(s.use, at.line, at.column)) continue;
      if (!best || Extent(s.use) < Extent(best->use)) best = &s;
    }
    return best;
  }

  // ---- diagnostics -----------------------------------------------------------------

  json Diagnostic(const Frontend& fe, const diag::Diagnostic& d) const {
    static const int kSeverity[] = {1, 2, 3};
    std::string message = d.message;
    json related = json::array();
    for (const auto& n : d.notes) {
      if (n.range.valid()) {
        related.push_back({{"location", Location(fe.sources, n.range)}, {"message", n.message}});
      } else {
        message += "\nnote: " + n.message;
      }
    }
    json j = {{"range", Range(fe.sources, d.range)},
              {"severity", kSeverity[static_cast<int>(d.severity)]},
              {"code", std::string(diag::Info(d.kind).name)},
              {"source", "cdr"},
              {"message", message}};
    if (!related.empty()) j["relatedInformation"] = std::move(related);
    return j;
  }

  std::vector<std::string> Publish() {
    std::vector<std::string> out;
    std::set<std::string> current;
    for (auto& [root, set] : sets) {
      if (!set.dirty) {  // published when it was analysed
        for (const auto& [path, _] : set.ids) current.insert(PathToUri(path));
        continue;
      }
      Analyse(set);
      if (set.capped && !set.said) {
        set.said = true;
        out.push_back(Notification(
            "window/showMessage",
            {{"type", 2},
             {"message", fmt::format("cdr: {} holds more than {} files and directories; only the first are checked "
                                     "together. Put a ruleset.cdr in the rule set's own directory.",
                                     root, kMaxSetEntries)}}));
      }
      for (const auto& [path, indices] : set.diags) {
        json list = json::array();
        for (size_t i : indices) list.push_back(Diagnostic(*set.fe, set.fe->diags.diagnostics()[i]));
        std::string uri = PathToUri(path);
        current.insert(uri);
        std::string text = list.dump();
        auto& last = published[uri];
        if (last == text) continue;
        last = text;
        json params = {{"uri", uri}, {"diagnostics", std::move(list)}};
        if (auto d = docs.find(path); d != docs.end()) params["version"] = d->second.version;
        out.push_back(Notification("textDocument/publishDiagnostics", std::move(params)));
      }
    }
    for (auto it = published.begin(); it != published.end();) {  // files gone: clear them
      if (current.count(it->first)) {
        ++it;
        continue;
      }
      out.push_back(
          Notification("textDocument/publishDiagnostics", {{"uri", it->first}, {"diagnostics", json::array()}}));
      it = published.erase(it);
    }
    return out;
  }

  void Touch(const std::string& path) {
    if (RuleSet* set = SetOf(path)) set->dirty = true;
  }

  // ---- hover -----------------------------------------------------------------------

  static std::string Trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
  }

  static std::string LineText(const Frontend& fe, const SourceRange& r) {
    if (!r.valid()) return {};
    const source::SourceFile& f = fe.sources.Get(r.file);
    return r.line <= f.line_count() ? Trimmed(f.Line(r.line)) : std::string{};
  }

  static std::string LetHover(const Frontend& fe, const ast::Rule* rule, const ast::RuleItem& let) {
    std::string out = fmt::format("```cdr\n{}\n```\n", LineText(fe, let.range));
    auto info = fe.model.exprs.find(let.expr.get());
    if (info != fe.model.exprs.end()) {
      out += fmt::format("`let` of rule `{}`: **{}**", rule ? rule->name : "?", sema::ToString(info->second.type));
      out += info->second.may_be_unknown ? "; may be unknown (an input missing from its window)" : "; always known";
    }
    return out;
  }

  static std::string SignalHover(const Frontend& fe, const sema::SignalInfo& s, const std::string& name) {
    if (!s.rule.empty()) {
      return fmt::format(
          "derived signal `{}`: every evaluation point of rule `{}` at which `{}` is known\n\n"
          "**{}**; read with an aggregate (`last({} within 4h)`)",
          name, s.rule, s.let, sema::ToString(s.type), name);
    }
    std::string out = fmt::format("```cdr\n{}\n```\n", LineText(fe, s.decl->range));
    out += fmt::format("{} `{}` of schema `{}`: **{}**", s.decl->is_event ? "event" : "signal", s.decl->name, s.schema,
                       s.type.IsError() ? "no value" : sema::ToString(s.type));
    if (s.plausible_low && s.plausible_high) {
      out +=
          fmt::format("\n\nplausible {} .. {}{}", s.plausible_low->ToShortString(), s.plausible_high->ToShortString(),
                      s.type.kind == sema::TypeKind::Quantity ? " '" + s.type.unit.text + "'" : "");
      out += s.decl->keep_implausible ? " (values outside are kept and flagged)" : " (values outside are refused)";
    }
    for (const auto& [unit, factor] : s.conversions) {
      out += fmt::format("\n\nconverts '{}' at factor {}", unit.text, factor.ToShortString());
    }
    out += "\n\nmay be unknown: a window may hold no event of it (use `??` or `is null`)";
    return out;
  }

  static std::string RuleHover(const ast::Rule& r) {
    std::string out = fmt::format("rule `{}`", r.name);
    if (!r.version.empty()) out += " version " + r.version;
    for (const auto& it : r.items) {
      if (it.kind == ast::RuleItem::Kind::Title && !it.strings.empty()) out += "\n\n" + ast::Unquote(it.strings[0]);
      if (it.kind == ast::RuleItem::Kind::Status && !it.names.empty()) out += "\n\nstatus " + it.names[0];
    }
    return out;
  }

  static std::string FunctionHover(const stdlib::FunctionInfo& f) {
    return fmt::format("```cdr\n{}\n```\n{}{}", CodeText(f), f.summary,
                       f.aggregate ? "\n\nan aggregate: its argument is a signal, read over a `within` window" : "");
  }

  // The innermost checked expression of a file around a point (hover off a name).
  static void Innermost(const ast::Expr* e, int32_t line, int32_t column, const ast::Expr*& best) {
    if (!e || !Contains(e->range, line, column)) return;
    if (!best || Extent(e->range) <= Extent(best->range)) best = e;
    for (const auto& k : e->kids) Innermost(k.get(), line, column, best);
    for (const auto& a : e->args) {
      Innermost(a.value.get(), line, column, best);
      Innermost(a.window.get(), line, column, best);
    }
    for (const auto& row : e->rows) Innermost(row.value.get(), line, column, best);
  }

  json Hover(const json& params) {
    auto at = Locate(params);
    if (!at) return nullptr;
    const Frontend& fe = *at->set->fe;
    std::string text;
    SourceRange range;
    if (const sema::Symbol* s = SymbolAt(*at)) {
      range = s->use;
      switch (s->kind) {
        case sema::Symbol::Kind::Signal:
          text = SignalHover(fe, *s->signal, s->name);
          if (s->let) text += "\n\n" + LetHover(fe, s->rule, *s->let);
          break;
        case sema::Symbol::Kind::Let:
          text = LetHover(fe, s->rule, *s->let);
          break;
        case sema::Symbol::Kind::Rule:
          text = RuleHover(*s->rule);
          break;
        case sema::Symbol::Kind::Schema: {
          auto sc = fe.model.schemas.find(s->name);
          text = fmt::format("schema `{}`: {} signals and events", s->name,
                             sc == fe.model.schemas.end() ? 0 : sc->second.size());
          break;
        }
        case sema::Symbol::Kind::Function:
          text = FunctionHover(stdlib::Info(*s->function));
          break;
      }
    } else {
      const ast::Expr* best = nullptr;
      const ast::File* file = FileOf(*at);
      for (size_t i = 0; file && i < file->decls.size(); ++i) {
        if (!file->decls[i].rule) continue;
        for (const auto& it : file->decls[i].rule->items) Innermost(it.expr.get(), at->line, at->column, best);
      }
      if (!best) return nullptr;
      auto info = fe.model.exprs.find(best);
      if (info == fe.model.exprs.end() || info->second.type.IsError()) return nullptr;
      range = best->range;
      text = fmt::format("**{}**{}", sema::ToString(info->second.type),
                         info->second.may_be_unknown ? "; may be unknown" : "; always known");
    }
    return {{"contents", {{"kind", "markdown"}, {"value", text}}}, {"range", Range(fe.sources, range)}};
  }

  // ---- definition and references ---------------------------------------------------

  json Definition(const json& params) {
    auto at = Locate(params);
    if (!at) return nullptr;
    const sema::Symbol* s = SymbolAt(*at);
    if (!s || !s->decl.valid()) return nullptr;
    return Location(at->set->fe->sources, s->decl);
  }

  json References(const json& params) {
    auto at = Locate(params);
    if (!at) return nullptr;
    const sema::Symbol* s = SymbolAt(*at);
    if (!s || !s->decl.valid()) return json::array();
    bool with_decl = params.value("context", json::object()).value("includeDeclaration", true);
    json out = json::array();
    std::set<std::tuple<int32_t, int32_t, int32_t>> seen;
    auto same = [](const SourceRange& a, const SourceRange& b) {
      return a.file == b.file && a.line == b.line && a.column == b.column;
    };
    for (const auto& r : at->set->fe->model.symbols) {
      if (!same(r.decl, s->decl) || r.kind != s->kind) continue;
      if (!with_decl && same(r.use, r.decl)) continue;
      if (!seen.insert({r.use.file.index, r.use.line, r.use.column}).second) continue;
      out.push_back(Location(at->set->fe->sources, r.use));
    }
    return out;
  }

  // ---- completion ------------------------------------------------------------------

  json Completion(const json& params) {
    auto at = Locate(params);
    json items = json::array();
    if (!at) return items;
    const Frontend& fe = *at->set->fe;
    const source::SourceFile& f = fe.sources.Get(at->file);
    std::string_view line = at->line <= f.line_count() ? f.Line(at->line) : std::string_view{};
    std::string before(line.substr(0, ClampedColumnOffset(line, at->column)));
    auto add = [&](const std::string& label, int kind, const std::string& detail, const std::string& doc = {}) {
      json item = {{"label", label}, {"kind", kind}};
      if (!detail.empty()) item["detail"] = detail;
      if (!doc.empty()) item["documentation"] = {{"kind", "markdown"}, {"value", doc}};
      items.push_back(std::move(item));
    };
    // Inside a quoted unit: units the schemas use, and the time units.
    if (std::count(before.begin(), before.end(), '\'') % 2 == 1) {
      std::set<std::string> units = {"s", "min", "h", "d", "wk", "mo", "a", "%", "1"};
      for (const auto& [_, signals] : fe.model.schemas) {
        for (const auto& [__, s] : signals) {
          if (s.type.kind == sema::TypeKind::Quantity) units.insert(s.type.unit.text);
          for (const auto& [u, ___] : s.conversions) units.insert(u.text);
        }
      }
      for (const auto& u : units) add(u, 11, "UCUM unit");
      return items;
    }
    std::string trimmed = Trimmed(before);
    if (trimmed.rfind("uses", 0) == 0) {
      for (const auto& [name, signals] : fe.model.schemas)
        add(name, 9, fmt::format("schema, {} signals", signals.size()));
      return items;
    }
    // The rule around the cursor: its schemas' signals and the lets above the cursor.
    const ast::Rule* rule = nullptr;
    const ast::File* file = FileOf(*at);
    for (size_t i = 0; file && i < file->decls.size(); ++i) {
      const ast::Rule* r = file->decls[i].rule.get();
      if (r && at->line >= r->range.line && at->line <= r->range.end_line) rule = r;
    }
    std::set<std::string> schemas;
    if (rule) {
      for (const auto& it : rule->items) {
        if (it.kind == ast::RuleItem::Kind::Uses) schemas.insert(it.names.begin(), it.names.end());
        if (it.kind == ast::RuleItem::Kind::Let && it.range.line < at->line) {
          auto info = fe.model.exprs.find(it.expr.get());
          add(it.names[0], 6, info == fe.model.exprs.end() ? "let" : "let: " + sema::ToString(info->second.type),
              LetHover(fe, rule, it));
        }
      }
    }
    for (const auto& [schema, signals] : fe.model.schemas) {
      if (rule && !schemas.count(schema)) continue;
      for (const auto& [name, s] : signals) {
        add(name, 10, s.type.IsError() ? "event" : sema::ToString(s.type), SignalHover(fe, s, name));
      }
    }
    for (const ast::Rule* r : fe.model.rule_order) {
      if (r == rule || r->synthetic) continue;
      for (const auto& it : r->items) {
        if (it.kind == ast::RuleItem::Kind::Let)
          add(r->name + "." + it.names[0], 6, "derived signal of rule " + r->name);
      }
    }
    for (const auto& fn : stdlib::Functions()) add(std::string(fn.name), 3, CodeText(fn), std::string(fn.summary));
    for (const auto& k : syntax::Keywords()) add(k, 14, "");
    return items;
  }

  // ---- formatting and code actions -----------------------------------------------------

  json Formatting(const json& params, const json& id, std::vector<std::string>& out) {
    // The document as analysed for this request (Handle publishes, so analyses, first).
    auto at = Locate(params);
    const ast::File* file = at ? FileOf(*at) : nullptr;
    if (!file) {
      out.push_back(Failure(id, kRequestFailed, "the document is not open"));
      return nullptr;
    }
    if (!file->parsed_cleanly) {
      out.push_back(Failure(id, kRequestFailed, "cdr fmt: the file has syntax errors; fix them first"));
      return nullptr;
    }
    const std::string& text = at->set->fe->sources.Get(at->file).text();
    std::string formatted = format::Format(*file, text);
    json edits = json::array();
    if (formatted == text) return edits;
    // One edit over the whole document: from its start to the end of its last line.
    int64_t lines = std::count(text.begin(), text.end(), '\n');
    std::string_view last = LineOf(text, lines);
    json end = {{"line", lines}, {"character", ToCharacter(last, source::CodePoints(last) + 1, enc)}};
    edits.push_back({{"range", {{"start", {{"line", 0}, {"character", 0}}}, {"end", end}}}, {"newText", formatted}});
    return edits;
  }

  static bool Overlaps(const json& a, const json& b) {
    auto key = [](const json& p) {
      return std::make_pair(p.at("line").get<int64_t>(), p.at("character").get<int64_t>());
    };
    return !(key(a.at("end")) < key(b.at("start")) || key(b.at("end")) < key(a.at("start")));
  }

  // The text of a range on one line (a fix-it's, for its title); empty otherwise.
  static std::string Excerpt(const Frontend& fe, const SourceRange& r) {
    if (!r.valid() || r.line != r.end_line) return {};
    const source::SourceFile& f = fe.sources.Get(r.file);
    size_t b = f.Offset(r.line, r.column), e = f.Offset(r.end_line, r.end_column);
    if (b == std::string::npos || e == std::string::npos || e <= b) return {};
    return f.text().substr(b, e - b);
  }

  json CodeActions(const json& params) {
    auto at = Locate(params);
    json actions = json::array();
    if (!at) return actions;
    const Frontend& fe = *at->set->fe;
    std::string path = fe.sources.Get(at->file).name();
    const json& range = params.at("range");
    for (size_t i : at->set->diags[path]) {
      const diag::Diagnostic& d = fe.diags.diagnostics()[i];
      if (d.fixes.empty()) continue;
      json lsp = Diagnostic(fe, d);
      if (!Overlaps(lsp["range"], range)) continue;
      json changes = json::object();
      std::vector<std::string> what;
      for (const auto& fix : d.fixes) {
        changes[PathToUri(fe.sources.Get(fix.range.file).name())].push_back(
            {{"range", Range(fe.sources, fix.range)}, {"newText", fix.replacement}});
        std::string old = Excerpt(fe, fix.range);
        what.push_back(old.empty()               ? fmt::format("insert `{}`", fix.replacement)
                       : fix.replacement.empty() ? fmt::format("remove `{}`", old)
                                                 : fmt::format("replace `{}` with `{}`", old, fix.replacement));
      }
      std::string title;
      for (const auto& w : what) title += (title.empty() ? "" : "; ") + w;
      title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
      actions.push_back({{"title", title},
                         {"kind", "quickfix"},
                         {"diagnostics", json::array({lsp})},
                         {"isPreferred", d.fixes.size() == 1},
                         {"edit", {{"changes", changes}}}});
    }
    return actions;
  }

  // ---- semantic tokens and symbols ---------------------------------------------------

  // The semantic token types, in the order of the legend sent at initialize.
  enum TokenType {
    kKeyword,
    kVariable,
    kProperty,
    kFunction,
    kNamespace,
    kClass,
    kNumber,
    kString,
    kComment,
    kOperator
  };
  static const std::vector<std::string>& TokenTypes() {
    static const std::vector<std::string> t = {"keyword", "variable", "property", "function", "namespace",
                                               "class",   "number",   "string",   "comment",  "operator"};
    return t;
  }
  static TokenType TypeOf(sema::Symbol::Kind k) {
    switch (k) {
      case sema::Symbol::Kind::Signal:
        return kProperty;
      case sema::Symbol::Kind::Let:
        return kVariable;
      case sema::Symbol::Kind::Rule:
        return kClass;
      case sema::Symbol::Kind::Schema:
        return kNamespace;
      case sema::Symbol::Kind::Function:
        return kFunction;
    }
    return kVariable;
  }
  static TokenType TypeOf(syntax::Token::Kind k) {
    switch (k) {
      case syntax::Token::Kind::Keyword:
        return kKeyword;
      case syntax::Token::Kind::Name:
        return kVariable;
      case syntax::Token::Kind::Number:
      case syntax::Token::Kind::DateTime:
        return kNumber;
      case syntax::Token::Kind::Text:
        return kString;
      case syntax::Token::Kind::Comment:
        return kComment;
      case syntax::Token::Kind::Punctuation:
        return kOperator;
    }
    return kOperator;
  }

  json SemanticTokens(const json& params) {
    auto at = Locate(params);
    json data = json::array();
    if (!at) return {{"data", data}};
    const Frontend& fe = *at->set->fe;
    const source::SourceFile& f = fe.sources.Get(at->file);
    std::map<std::pair<int32_t, int32_t>, TokenType> named;  // where a symbol starts -> its token type
    for (const auto& s : fe.model.symbols) {
      if (s.use.file == at->file) named[{s.use.line, s.use.column}] = TypeOf(s.kind);
    }
    int64_t prev_line = 0, prev_char = 0;
    auto emit = [&](int32_t line, int64_t start, int64_t length, TokenType type) {
      if (length <= 0) return;
      int64_t l = line - 1;
      data.push_back(l - prev_line);
      data.push_back(l == prev_line ? start - prev_char : start);
      data.push_back(length);
      data.push_back(type);
      data.push_back(0);
      prev_line = l;
      prev_char = start;
    };
    for (const auto& t : syntax::Lex(fe.sources, at->file)) {
      TokenType type = TypeOf(t.kind);
      if (auto n = named.find({t.range.line, t.range.column}); n != named.end()) type = n->second;
      for (int32_t l = t.range.line; l <= t.range.end_line && l <= f.line_count(); ++l) {
        std::string_view text = f.Line(l);
        int32_t from = l == t.range.line ? t.range.column : 1;
        int32_t to = l == t.range.end_line ? t.range.end_column : source::CodePoints(text) + 1;
        int64_t start = ToCharacter(text, from, enc);
        emit(l, start, ToCharacter(text, to, enc) - start, type);
      }
    }
    return {{"data", data}};
  }

  json DocumentSymbols(const json& params) {
    auto at = Locate(params);
    json out = json::array();
    if (!at) return out;
    const Frontend& fe = *at->set->fe;
    auto symbol = [&](const std::string& name, int kind, const SourceRange& range, const SourceRange& name_range) {
      SourceRange sel = name_range.valid() ? name_range : range;
      return json{{"name", name.empty() ? "?" : name},
                  {"kind", kind},
                  {"range", Range(fe.sources, range)},
                  {"selectionRange", Range(fe.sources, sel)},
                  {"children", json::array()}};
    };
    const ast::File* file = FileOf(*at);
    for (size_t i = 0; file && i < file->decls.size(); ++i) {
      const ast::Decl& d = file->decls[i];
      if (d.schema) {
        json s = symbol(d.schema->name, 2, d.schema->range, d.schema->name_range);
        for (const auto& it : d.schema->items) {
          if (it.signal)
            s["children"].push_back(
                symbol(it.signal->name, it.signal->is_event ? 24 : 8, it.signal->range, it.signal->name_range));
        }
        out.push_back(std::move(s));
      } else if (d.rule) {
        json r = symbol(d.rule->name, 5, d.rule->range, d.rule->name_range);
        for (const auto& it : d.rule->items) {
          if (it.kind == ast::RuleItem::Kind::Let && !it.names.empty()) {
            r["children"].push_back(symbol(it.names[0], 13, it.range, it.name_ranges[0]));
          }
        }
        out.push_back(std::move(r));
      } else if (d.test) {
        out.push_back(symbol(ast::Unquote(d.test->name), 12, d.test->range, d.test->target_range));
      } else if (d.ruleset) {
        out.push_back(symbol(d.ruleset->name, 3, d.ruleset->range, d.ruleset->name_range));
      }
    }
    return out;
  }

  // ---- lifecycle and documents ---------------------------------------------------------

  json Initialize(const json& params) {
    const json caps = params.value("capabilities", json::object());
    json encodings = caps.value("general", json::object()).value("positionEncodings", json::array());
    enc =
        std::find(encodings.begin(), encodings.end(), "utf-32") != encodings.end() ? Encoding::Utf32 : Encoding::Utf16;
    auto add_folder = [&](const std::string& uri) {
      std::string p = UriToPath(uri);
      if (!p.empty() && std::find(folders.begin(), folders.end(), p) == folders.end()) folders.push_back(p);
    };
    if (params.contains("workspaceFolders") && params["workspaceFolders"].is_array()) {
      for (const auto& f : params["workspaceFolders"]) add_folder(f.at("uri").get<std::string>());
    }
    if (folders.empty() && params.contains("rootUri") && params["rootUri"].is_string()) {
      add_folder(params["rootUri"].get<std::string>());
    }
    ScanFolders();
    initialized = true;
    json legend = {{"tokenTypes", TokenTypes()}, {"tokenModifiers", json::array()}};
    return {{"capabilities",
             {{"positionEncoding", enc == Encoding::Utf32 ? "utf-32" : "utf-16"},
              {"textDocumentSync", {{"openClose", true}, {"change", 2}, {"save", {{"includeText", false}}}}},
              {"hoverProvider", true},
              {"definitionProvider", true},
              {"referencesProvider", true},
              {"completionProvider", {{"triggerCharacters", {"'", "."}}}},
              {"documentFormattingProvider", true},
              {"codeActionProvider", {{"codeActionKinds", {"quickfix"}}}},
              {"semanticTokensProvider", {{"legend", legend}, {"full", true}}},
              {"documentSymbolProvider", true},
              {"workspace", {{"workspaceFolders", {{"supported", true}, {"changeNotifications", true}}}}}}},
            {"serverInfo", {{"name", "cdr"}, {"version", Version()}}}};
  }

  void Open(const json& params) {
    const json& doc = params.at("textDocument");
    std::string path = UriToPath(doc.at("uri").get<std::string>());
    if (path.empty()) return;  // not a file: nothing to check it with
    docs[path] = Document{doc.at("text").get<std::string>(), doc.value("version", int64_t{0})};
    AddSet(RootFor(path));
    Touch(path);
  }

  void Change(const json& params) {
    std::string path = UriToPath(params.at("textDocument").at("uri").get<std::string>());
    auto d = docs.find(path);
    if (d == docs.end()) return;
    d->second.version = params.at("textDocument").value("version", d->second.version);
    for (const auto& c : params.at("contentChanges")) {
      std::string text = c.at("text").get<std::string>();
      if (!c.contains("range")) {
        d->second.text = std::move(text);
        continue;
      }
      const json& r = c.at("range");  // at(): a const [] of a missing key reads past the object
      std::string& doc = d->second.text;
      const json& from = r.at("start");
      const json& to = r.at("end");
      size_t b = Offset(doc, from.at("line").get<int64_t>(), from.at("character").get<int64_t>(), enc);
      size_t e = Offset(doc, to.at("line").get<int64_t>(), to.at("character").get<int64_t>(), enc);
      doc.replace(b, std::max(b, e) - b, text);
    }
    Touch(path);
  }

  void Close(const json& params) {
    std::string path = UriToPath(params.at("textDocument").at("uri").get<std::string>());
    docs.erase(path);
    Touch(path);  // the file on disk takes its place
  }

  void FoldersChanged(const json& params) {
    const json& event = params.at("event");
    for (const auto& f : event.value("removed", json::array())) {
      std::string p = UriToPath(f.at("uri").get<std::string>());
      folders.erase(std::remove(folders.begin(), folders.end(), p), folders.end());
      for (auto it = sets.begin(); it != sets.end();)
        it = it->first == p || Under(it->first, p) ? sets.erase(it) : std::next(it);
    }
    for (const auto& f : event.value("added", json::array()))
      folders.push_back(UriToPath(f.at("uri").get<std::string>()));
    ScanFolders();
  }

  std::vector<std::string> Handle(std::string_view message) {
    std::vector<std::string> out;
    json m = json::parse(message, nullptr, false);
    if (m.is_discarded() || !m.is_object()) {
      out.push_back(Failure(nullptr, kParseError, "the message is not a JSON object"));
      return out;
    }
    if (!m.contains("method") || !m["method"].is_string()) {
      if (!m.contains("id")) out.push_back(Failure(nullptr, kInvalidRequest, "a message without a method"));
      return out;  // a response to a request of ours: we send none
    }
    const std::string method = m["method"];
    const bool request = m.contains("id");
    const json id = request ? m["id"] : json(nullptr);
    const json params = m.value("params", json::object());
    // A notification with an id, or a request without one, is not what the protocol allows:
    // the first gets an error (every request is answered), the second is left unanswered.
    static const std::set<std::string> kNotifications = {"initialized",
                                                         "exit",
                                                         "textDocument/didOpen",
                                                         "textDocument/didChange",
                                                         "textDocument/didClose",
                                                         "textDocument/didSave",
                                                         "workspace/didChangeWatchedFiles",
                                                         "workspace/didChangeWorkspaceFolders",
                                                         "workspace/didChangeConfiguration",
                                                         "$/cancelRequest",
                                                         "$/setTrace"};
    if (request && kNotifications.count(method)) {
      out.push_back(Failure(id, kInvalidRequest, "`" + method + "` is a notification: it takes no id"));
      return out;
    }
    if (!request && (method == "initialize" || method == "shutdown")) return out;
    try {
      if (method == "initialize") {
        out.push_back(Response(id, Initialize(params)));
        return out;
      }
      if (method == "exit") {
        exited = true;
        return out;
      }
      if (!initialized) {
        if (request) out.push_back(Failure(id, kServerNotInitialized, "initialize first"));
        return out;
      }
      if (shutdown) {  // after `shutdown`, only `exit` (the protocol: requests fail)
        if (request) out.push_back(Failure(id, kInvalidRequest, "the server is shutting down: send exit"));
        return out;
      }
      if (method == "shutdown") {
        shutdown = true;
        out.push_back(Response(id, nullptr));
        return out;
      }
      if (method == "textDocument/didOpen") return Open(params), out;
      if (method == "textDocument/didChange") return Change(params), out;
      if (method == "textDocument/didClose") return Close(params), out;
      if (method == "textDocument/didSave" || method == "workspace/didChangeWatchedFiles") {
        for (auto& [_, set] : sets) set.dirty = true;  // a file changed on disk
        return out;
      }
      if (method == "workspace/didChangeWorkspaceFolders") return FoldersChanged(params), out;
      if (!request) return out;  // initialized, $/cancelRequest, $/setTrace, ...: nothing to do
      out = Publish();           // answer from the latest text
      if (method == "textDocument/hover") {
        out.push_back(Response(id, Hover(params)));
      } else if (method == "textDocument/definition") {
        out.push_back(Response(id, Definition(params)));
      } else if (method == "textDocument/references") {
        out.push_back(Response(id, References(params)));
      } else if (method == "textDocument/completion") {
        out.push_back(Response(id, Completion(params)));
      } else if (method == "textDocument/formatting") {
        json edits = Formatting(params, id, out);
        if (!edits.is_null()) out.push_back(Response(id, edits));
      } else if (method == "textDocument/codeAction") {
        out.push_back(Response(id, CodeActions(params)));
      } else if (method == "textDocument/semanticTokens/full") {
        out.push_back(Response(id, SemanticTokens(params)));
      } else if (method == "textDocument/documentSymbol") {
        out.push_back(Response(id, DocumentSymbols(params)));
      } else {
        out.push_back(Failure(id, kMethodNotFound, "cdr lsp does not serve " + method));
      }
    } catch (const json::exception& e) {
      if (request) out.push_back(Failure(id, kInvalidParams, std::string("bad parameters: ") + e.what()));
    } catch (const std::exception& e) {
      if (request) out.push_back(Failure(id, kInternalError, std::string("cdr lsp: ") + e.what()));
    }
    return out;
  }
};

Server::Server() : impl_(std::make_unique<Impl>()) {}
Server::~Server() = default;
std::vector<std::string> Server::Handle(std::string_view message) { return impl_->Handle(message); }
std::vector<std::string> Server::Flush() {
  if (!impl_->initialized) return {};
  return impl_->Publish();
}
bool Server::exited() const { return impl_->exited; }
int Server::exit_code() const { return impl_->shutdown ? 0 : 1; }

int Serve(int in, int out) {
  std::signal(SIGPIPE, SIG_IGN);  // a client gone: a failed write, not a killed process
  Server server;
  std::string buffer;
  auto send = [&](const std::string& body) {
    std::string m = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t done = 0; done < m.size();) {
      ssize_t n = ::write(out, m.data() + done, m.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  };
  constexpr size_t kMaxMessage = 64u << 20;
  char chunk[1 << 16];
  while (true) {
    size_t header_end = buffer.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      std::optional<size_t> length;
      std::istringstream headers(buffer.substr(0, header_end));
      for (std::string line; std::getline(headers, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::string lower = line;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (lower.rfind("content-length:", 0) == 0) {
          try {
            length = std::stoull(line.substr(15));
          } catch (...) {
          }
        }
      }
      if (!length || *length > kMaxMessage) {
        std::cerr << "cdr lsp: a message header without a valid Content-Length (at most 64 MiB); stopping\n";
        return kUsage;
      }
      if (buffer.size() >= header_end + 4 + *length) {
        std::string body = buffer.substr(header_end + 4, *length);
        buffer.erase(0, header_end + 4 + *length);
        for (const auto& m : server.Handle(body)) {
          if (!send(m)) return kFailed;
        }
        if (server.exited()) return server.exit_code();
        continue;
      }
    } else if (buffer.size() > 64 * 1024) {
      std::cerr << "cdr lsp: a message header longer than 64 KiB; stopping\n";
      return kUsage;
    }
    // Nothing whole to handle: publish the diagnostics of the edits so far, unless more
    // input is already waiting (a burst of keystrokes is checked once).
    pollfd p{in, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) {
      for (const auto& m : server.Flush()) {
        if (!send(m)) return kFailed;
      }
    }
    ssize_t n = ::read(in, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return kFailed;  // the client went away without `exit`
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace cdr::driver::lsp
