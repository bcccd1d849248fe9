// compiler/driver/frontend.cpp: file collection, reading, parsing and checking.
#include "compiler/driver/frontend.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <cerrno>
#include <cstring>

#include "compiler/lower/lower.h"
#include "compiler/syntax/parse.h"

namespace cdr::driver {

namespace fs = std::filesystem;

bool CollectFiles(const std::vector<std::string>& paths, std::vector<std::string>& out, std::string& error) {
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".cdr") found.push_back(it->path().string());
      }
      if (ec) {
        error = "cannot read directory `" + p + "`: " + ec.message();
        return false;
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      error = "no such file or directory: `" + p + "`";
      return false;
    }
  }
  return true;
}

void Frontend::AddText(std::string name, std::string text) {
  source::FileId id = sources.Add(std::move(name), std::move(text));
  files.push_back(syntax::Parse(sources, id, diags, options.max_file_bytes));
}

void Frontend::AddExpression(std::string name, std::string text) {
  source::FileId id = sources.Add(std::move(name), std::move(text));
  files.push_back(syntax::ParseExpression(sources, id, diags));
}

void Frontend::Load(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    if (!ec && size > options.max_file_bytes) {
      // Do not read a huge file only to refuse it.
      source::FileId id = sources.Add(p, "");
      diags.Emit<diag::Msg::FileTooLarge>(source::SourceRange{id, 0, 0, 0, 0}, size, options.max_file_bytes);
      files.push_back(ast::File{id, {}, {}, false});
      continue;
    }
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    if (in) ss << in.rdbuf();
    if (!in || in.bad()) {
      source::FileId id = sources.Add(p, "");
      diags.Emit<diag::Msg::IoError>(source::SourceRange{id, 0, 0, 0, 0}, p, std::strerror(errno));
      io_error = true;
      continue;
    }
    AddText(p, ss.str());
  }
}

void Frontend::Check() {
  std::vector<const ast::File*> ptrs;
  for (const auto& f : files) ptrs.push_back(&f);
  model = sema::Check(ptrs, diags);
  diags.Sort();
}

}  // namespace cdr::driver

namespace cdr::driver {

bool Frontend::Compile(const std::vector<std::string>& paths, std::string& error) {
  std::vector<std::string> found;
  if (!CollectFiles(paths, found, error)) return false;
  Load(found);
  Check();
  Lower();
  return true;
}

bool Frontend::Lower() {
  if (diags.error_count() > 0) return false;
  if (!excluded.empty()) {
    std::erase_if(model.rule_order, [this](const ast::Rule* r) { return excluded.count(r->name) > 0; });
    std::erase_if(model.derived, [this](const auto& d) { return excluded.count(d.second.rule) > 0; });
  }
  std::vector<const ast::File*> ptrs;
  for (const auto& f : files) ptrs.push_back(&f);
  module = ir::Lower(ptrs, model, diags);
  for (const std::string& problem : ir::Verify(module)) {
    // A verifier failure is a compiler bug: say so plainly rather than run bad code.
    diags.Emit<diag::Msg::Unsupported>(source::SourceRange{}, "this rule set (internal error: " + problem + ")");
  }
  diags.Sort();
  return diags.error_count() == 0;
}

}  // namespace cdr::driver
