// Tokenizer and tree builder for the configuration language (see conf_parser.h).
// The only I/O goes through ConfSource, so tests and fuzzers parse from memory.
#include "core/conf_parser.h"

#include <glob.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sp {

namespace {

constexpr int kMaxIncludeDepth = 16;
constexpr int kMaxBlockDepth = 32;

enum class TokKind { word, open, close, semicolon, end };

struct Token {
  TokKind kind;
  std::string text;
  bool quoted = false;
  int line = 0;
};

class Lexer {
 public:
  Lexer(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  Result<Token> next() {
    skip_space_and_comments();
    Token t;
    t.line = line_;
    if (pos_ >= s_.size()) {
      t.kind = TokKind::end;
      return t;
    }
    char c = s_[pos_];
    if (c == '{' || c == '}' || c == ';') {
      pos_++;
      t.kind = c == '{' ? TokKind::open : c == '}' ? TokKind::close : TokKind::semicolon;
      t.text = std::string(1, c);
      return t;
    }
    t.kind = TokKind::word;
    if (c == '"' || c == '\'') return quoted(c, t);
    while (pos_ < s_.size()) {
      char w = s_[pos_];
      if (isspace(static_cast<unsigned char>(w)) || w == ';' || w == '{' || w == '}') break;
      if (w == '"' || w == '\'') {
        return Result<Token>::Error(ErrorKind::bad_input, std::string("unexpected quote in \"") + t.text + "\" in " +
                                                              file_ + ":" + std::to_string(line_));
      }
      t.text.push_back(w);
      pos_++;
    }
    return t;
  }

 private:
  void skip_space_and_comments() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\n') {
        line_++;
        pos_++;
      } else if (isspace(static_cast<unsigned char>(c))) {
        pos_++;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') pos_++;
      } else {
        break;
      }
    }
  }

  Result<Token> quoted(char q, Token t) {
    int start_line = line_;
    pos_++;
    t.quoted = true;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == q) {
        // A quoted argument must end at a separator, not run into a word.
        if (pos_ < s_.size() && !isspace(static_cast<unsigned char>(s_[pos_])) && s_[pos_] != ';' &&
            s_[pos_] != '{' && s_[pos_] != '}') {
          return Result<Token>::Error(ErrorKind::bad_input, "unexpected \"" + std::string(1, s_[pos_]) +
                                                                "\" after quoted string in " + file_ + ":" +
                                                                std::to_string(line_));
        }
        return t;
      }
      if (c == '\n') line_++;
      if (c == '\\' && pos_ < s_.size()) {
        char e = s_[pos_++];
        switch (e) {
          case 'n': t.text.push_back('\n'); break;
          case 't': t.text.push_back('\t'); break;
          case 'r': t.text.push_back('\r'); break;
          case '"': case '\'': case '\\': t.text.push_back(e); break;
          default:
            // Unknown escapes are kept as written (regular expressions, paths).
            t.text.push_back('\\');
            t.text.push_back(e);
            if (e == '\n') line_++;
        }
        continue;
      }
      t.text.push_back(c);
    }
    return Result<Token>::Error(ErrorKind::bad_input,
                                "unterminated string starting in " + file_ + ":" + std::to_string(start_line));
  }

  std::string_view s_;
  const std::string& file_;
  size_t pos_ = 0;
  int line_ = 1;
};

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class TreeParser {
 public:
  TreeParser(std::string_view text, const std::string& file, const ConfSource& src, int depth)
      : lex_(text, file), file_(file), src_(src), include_depth_(depth) {}

  Result<std::vector<ConfDirective>> parse_top() { return parse_list(0); }

 private:
  std::string at(int line) const { return file_ + ":" + std::to_string(line); }

  Result<std::vector<ConfDirective>> parse_list(int block_depth) {
    if (block_depth > kMaxBlockDepth) {
      return Result<std::vector<ConfDirective>>::Error(ErrorKind::bad_input, "blocks nested too deeply in " + file_);
    }
    std::vector<ConfDirective> out;
    for (;;) {
      auto tok = lex_.next();
      if (!tok.ok()) return tok.status();
      switch (tok->kind) {
        case TokKind::end:
          if (block_depth > 0) {
            return Result<std::vector<ConfDirective>>::Error(
                ErrorKind::bad_input, "unexpected end of file, expecting \"}\" in " + at(tok->line));
          }
          return out;
        case TokKind::close:
          if (block_depth == 0) {
            return Result<std::vector<ConfDirective>>::Error(ErrorKind::bad_input,
                                                             "unexpected \"}\" in " + at(tok->line));
          }
          return out;
        case TokKind::open:
        case TokKind::semicolon:
          return Result<std::vector<ConfDirective>>::Error(ErrorKind::bad_input,
                                                           "unexpected \"" + tok->text + "\" in " + at(tok->line));
        case TokKind::word: {
          Status st = parse_directive(std::move(*tok), block_depth, &out);
          if (!st.ok()) return st;
        }
      }
    }
  }

  Status parse_directive(Token name, int block_depth, std::vector<ConfDirective>* out) {
    ConfDirective d;
    d.name = std::move(name.text);
    d.file = file_;
    d.line = name.line;
    if (name.quoted || d.name.empty()) {
      return Status::Error(ErrorKind::bad_input, "directive name must not be quoted in " + at(d.line));
    }
    for (;;) {
      auto tok = lex_.next();
      if (!tok.ok()) return tok.status();
      if (tok->kind == TokKind::word) {
        d.args.push_back(std::move(tok->text));
        continue;
      }
      if (tok->kind == TokKind::semicolon) break;
      if (tok->kind == TokKind::open) {
        d.has_block = true;
        auto inner = parse_list(block_depth + 1);
        if (!inner.ok()) return inner.status();
        d.block = std::move(*inner);
        break;
      }
      if (tok->kind == TokKind::end) {
        return Status::Error(ErrorKind::bad_input,
                             "unexpected end of file, expecting \";\" or \"}\" in " + at(tok->line));
      }
      return Status::Error(ErrorKind::bad_input, "unexpected \"}\" in " + at(tok->line) + ", expecting \";\"");
    }
    if (d.name == "include" && !d.has_block) return expand_include(d, out);
    out->push_back(std::move(d));
    return Status::Ok();
  }

  Status expand_include(const ConfDirective& d, std::vector<ConfDirective>* out) {
    if (d.args.size() != 1) {
      return Status::Error(ErrorKind::bad_input,
                           "invalid number of arguments in \"include\" directive in " + at(d.line));
    }
    if (include_depth_ >= kMaxIncludeDepth) {
      return Status::Error(ErrorKind::bad_input, "includes nested too deeply in " + at(d.line));
    }
    std::string pattern = d.args[0];
    if (pattern.empty() || pattern[0] != '/') pattern = dir_of(file_) + "/" + pattern;
    auto files = src_.glob(pattern);
    if (!files.ok()) return Status::Error(ErrorKind::bad_input, files.error() + " in " + at(d.line));
    for (const std::string& path : *files) {
      auto text = src_.read(path);
      if (!text.ok()) return Status::Error(ErrorKind::bad_input, text.error() + " in " + at(d.line));
      auto tree = parse_conf(*text, path, src_, include_depth_ + 1);
      if (!tree.ok()) return tree.status();
      for (auto& child : *tree) out->push_back(std::move(child));
    }
    return Status::Ok();
  }

  Lexer lex_;
  const std::string& file_;
  const ConfSource& src_;
  int include_depth_;
};

}  // namespace

Result<std::vector<ConfDirective>> parse_conf(std::string_view text, const std::string& file,
                                              const ConfSource& src, int depth) {
  TreeParser p(text, file, src, depth);
  return p.parse_top();
}

ConfSource filesystem_conf_source() {
  ConfSource src;
  src.read = [](const std::string& path) -> Result<std::string> {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return Result<std::string>::Error(ErrorKind::bad_input, "open() \"" + path + "\" failed: is a directory");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Result<std::string>::Error(ErrorKind::bad_input, "open() \"" + path + "\" failed: " + strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  src.glob = [](const std::string& pattern) -> Result<std::vector<std::string>> {
    bool wild = pattern.find_first_of("*?[") != std::string::npos;
    glob_t g;
    int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    std::vector<std::string> paths;
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; i++) paths.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
    if (rc == GLOB_NOMATCH && !wild) {
      return Result<std::vector<std::string>>::Error(ErrorKind::bad_input,
                                                     "include \"" + pattern + "\" failed: no such file");
    }
    if (rc != 0 && rc != GLOB_NOMATCH) {
      return Result<std::vector<std::string>>::Error(ErrorKind::bad_input,
                                                     "include \"" + pattern + "\" failed: glob error");
    }
    return paths;
  };
  return src;
}

}  // namespace sp
