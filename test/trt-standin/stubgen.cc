// Build-time generator (run by this folder's CMakeLists.txt, never committed output): reads the
// TensorRT headers it is given and writes, for each named interface, a class that overrides every
// pure virtual method with a call to TrtStandinUnimplemented("IName::method"). The stand-in derives
// its implementations from these and overrides only what smart-turn-serving calls, so any other
// call aborts naming the method, and the stand-in follows whatever headers it is built against.
//
//   stubgen OUT.h --header H --namespace N --classes A,B,... [--header ... --namespace ... --classes ...]
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Group {
  std::string header;
  std::string ns;  // "nvinfer1::apiv" or "nvonnxparser"
  std::vector<std::string> classes;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

/** The text with comments removed, preprocessor lines kept whole (each ends with '\n'). */
std::string StripComments(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "//") == 0) {
      while (i < text.size() && text[i] != '\n') ++i;
      out += '\n';
    } else if (text.compare(i, 2, "/*") == 0) {
      const std::size_t end = text.find("*/", i + 2);
      i = end == std::string::npos ? text.size() : end + 1;
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string Trim(const std::string& s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string Squash(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
    } else {
      if (space && !out.empty()) out += ' ';
      out += c;
      space = false;
    }
  }
  return out;
}

bool IsIdent(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

/** The body of `class <name> ...{ ... };`, or throws. */
std::string ClassBody(const std::string& text, const std::string& name) {
  std::size_t pos = 0;
  while ((pos = text.find("class " + name, pos)) != std::string::npos) {
    const std::size_t after = pos + 6 + name.size();
    if (after < text.size() && IsIdent(text[after])) {
      pos = after;
      continue;
    }
    const std::size_t brace = text.find_first_of("{;", after);
    if (brace == std::string::npos || text[brace] == ';') {  // a forward declaration
      pos = after;
      continue;
    }
    int depth = 0;
    for (std::size_t i = brace; i < text.size(); ++i) {
      if (text[i] == '{') ++depth;
      if (text[i] == '}' && --depth == 0) return text.substr(brace + 1, i - brace - 1);
    }
    break;
  }
  throw std::runtime_error("class " + name + " not found");
}

/** Every `virtual ... = 0;` of a class body as an override stub, preprocessor lines kept in place. */
std::string Stubs(const std::string& body, const std::string& iface) {
  std::string out;
  std::string statement;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string t = Trim(line);
    if (!t.empty() && t[0] == '#') {
      out += t + "\n";
      continue;
    }
    for (char c : line + "\n") {
      statement += c;
      if (c != ';' && c != '}') continue;
      std::string s = Squash(statement);
      statement.clear();
      if (s.find("virtual ") == std::string::npos || s.size() < 4 || s.compare(s.size() - 4, 4, "= 0;") != 0) continue;
      s = s.substr(0, s.size() - 4);
      const std::size_t v = s.find("virtual ");
      s.erase(v, 8);
      for (const char* label : {"public:", "protected:", "private:"}) {
        const std::size_t l = s.find(label);
        if (l != std::string::npos) s.erase(0, l + std::string(label).size());
      }
      s = Trim(s);
      const std::size_t paren = s.find('(');
      std::size_t e = paren;
      while (e > 0 && s[e - 1] == ' ') --e;
      std::size_t b = e;
      while (b > 0 && IsIdent(s[b - 1])) --b;
      const std::string method = s.substr(b, e - b);
      out += "  " + s + " override { TrtStandinUnimplemented(\"" + iface + "::" + method + "\"); }\n";
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw std::runtime_error("usage: stubgen OUT.h --header H --namespace N --classes A,B ...");
    std::vector<Group> groups;
    for (int i = 2; i + 1 < argc; i += 2) {
      const std::string flag = argv[i];
      if (flag == "--header") {
        groups.push_back({argv[i + 1], "", {}});
      } else if (flag == "--namespace" && !groups.empty()) {
        groups.back().ns = argv[i + 1];
      } else if (flag == "--classes" && !groups.empty()) {
        groups.back().classes = Split(argv[i + 1], ',');
      } else {
        throw std::runtime_error("unexpected argument " + flag);
      }
    }
    std::string out =
        "// Generated by test/trt-standin/stubgen.cc from the TensorRT headers this build used. Do not edit or commit.\n"
        "#pragma once\n#include <NvInfer.h>\n#include <NvOnnxParser.h>\n\n"
        "[[noreturn]] void TrtStandinUnimplemented(const char* method) noexcept;\n\n"
        "#pragma GCC diagnostic push\n#pragma GCC diagnostic ignored \"-Wunused-parameter\"\n"
        "#pragma GCC diagnostic ignored \"-Wdeprecated-declarations\"\n\n";
    for (const Group& g : groups) {
      const std::string text = StripComments(ReadFile(g.header));
      const std::vector<std::string> parts = Split(g.ns, ':');
      for (const auto& p : parts) out += "namespace " + p + " {\n";
      for (const auto& cls : g.classes) {
        // VRuntime implements IRuntime; IParser is its own interface.
        const std::string iface = cls[0] == 'V' ? "I" + cls.substr(1) : cls;
        out += "\nclass Stub" + cls + " : public " + cls + " {\n public:\n" + Stubs(ClassBody(text, cls), iface) + "};\n";
      }
      for (std::size_t k = 0; k < parts.size(); ++k) out += "}\n";
    }
    out += "\n#pragma GCC diagnostic pop\n";
    std::ofstream(argv[1]) << out;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "stubgen: " << e.what() << "\n";
    return 1;
  }
}
