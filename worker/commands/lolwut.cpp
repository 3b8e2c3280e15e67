// LOLWUT [VERSION v] [args]: Redis's computer art, by version. Redis 7.0's
// own (the default) is its version line; VERSION 5 draws Georg Nees's
// Schotter in Braille dots, VERSION 6 a skyline in terminal colors. Both
// are random as Redis's are, so only their shape is Redis's.
#include <cmath>
#include <random>

#include "common/config/version.h"
#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

// Pixels of 0..3 (dark to light); out of bounds reads 0 and writes nothing.
class Canvas {
 public:
  Canvas(int width, int height, int background)
      : width_(width), height_(height), pixels_(static_cast<std::size_t>(width) * height, background) {}
  int width() const { return width_; }
  int height() const { return height_; }
  void set(int x, int y, int color) {
    if (x >= 0 && x < width_ && y >= 0 && y < height_) pixels_[static_cast<std::size_t>(y) * width_ + x] = color;
  }
  int get(int x, int y) const {
    return x >= 0 && x < width_ && y >= 0 && y < height_ ? pixels_[static_cast<std::size_t>(y) * width_ + x] : 0;
  }
  // Bresenham's line.
  void line(int x1, int y1, int x2, int y2) {
    const int dx = std::abs(x2 - x1), dy = std::abs(y2 - y1);
    const int sx = x1 < x2 ? 1 : -1, sy = y1 < y2 ? 1 : -1;
    for (int err = dx - dy;;) {
      set(x1, y1, 1);
      if (x1 == x2 && y1 == y2) return;
      const int e2 = err * 2;
      if (e2 > -dy) err -= dy, x1 += sx;
      if (e2 < dx) err += dx, y1 += sy;
    }
  }
  // A square of side `size` centered on x,y, turned by `angle`: its corners
  // are four points of the circle around it, a quarter turn apart.
  void square(int x, int y, float size, float angle) {
    const float radius = std::round(size / 1.4142135623f);
    int px[4], py[4];
    float k = static_cast<float>(M_PI) / 4 + angle;
    for (int j = 0; j < 4; ++j, k += static_cast<float>(M_PI) / 2) {
      px[j] = static_cast<int>(std::round(std::sin(k) * radius + static_cast<float>(x)));
      py[j] = static_cast<int>(std::round(std::cos(k) * radius + static_cast<float>(y)));
    }
    for (int j = 0; j < 4; ++j) line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4]);
  }

 private:
  int width_, height_;
  std::vector<int> pixels_;
};

std::mt19937& random() {
  static std::mt19937 generator(std::random_device{}());
  return generator;
}
int randomBelow(int n) { return static_cast<int>(random()() % static_cast<unsigned>(n)); }
float randomUnit() { return std::uniform_real_distribution<float>(0.0f, 1.0f)(random()); }

// A 2x4 block of pixels as one Braille character (U+2800 + its dots).
std::string braille(const Canvas& c) {
  std::string text;
  for (int y = 0; y < c.height(); y += 4) {
    for (int x = 0; x < c.width(); x += 2) {
      const int dots = (c.get(x, y) << 0) | (c.get(x, y + 1) << 1) | (c.get(x, y + 2) << 2) | (c.get(x + 1, y) << 3) |
                       (c.get(x + 1, y + 1) << 4) | (c.get(x + 1, y + 2) << 5) | (c.get(x, y + 3) << 6) |
                       (c.get(x + 1, y + 3) << 7);
      const int code = 0x2800 + dots;
      text += static_cast<char>(0xE0 | (code >> 12));
      text += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      text += static_cast<char>(0x80 | (code & 0x3F));
    }
    if (y != c.height() - 1) text += '\n';
  }
  return text;
}

std::string schotter(long columns, long perRow, long perColumn) {
  const int width = static_cast<int>(columns) * 2;
  const int padding = width > 4 ? 2 : 0;
  const float side = static_cast<float>(width - padding * 2) / static_cast<float>(perRow);
  Canvas canvas(width, static_cast<int>(side * static_cast<float>(perColumn)) + padding * 2, 0);
  for (int y = 0; y < perColumn; ++y) {
    for (int x = 0; x < perRow; ++x) {
      int sx = static_cast<int>(static_cast<float>(x) * side + side / 2) + padding;
      int sy = static_cast<int>(static_cast<float>(y) * side + side / 2) + padding;
      float angle = 0;
      if (y > 1) {  // lower rows are more and more disordered
        auto jitter = [&] {
          const float r = randomUnit() / static_cast<float>(perColumn) * static_cast<float>(y);
          return randomBelow(2) ? -r : r;
        };
        angle = jitter();
        sx += static_cast<int>(jitter() * side / 3);
        sy += static_cast<int>(jitter() * side / 3);
      }
      canvas.square(sx, sy, side, angle);
    }
  }
  return braille(canvas) + "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. " +
         std::string(kRedisCompatibleVersion) + "\n";
}

void skyscraper(Canvas& c, int xoff, int width, int height, bool windows, int color) {
  const int bottom = c.height() - 1, top = bottom - height + 1;
  for (int y = bottom; y >= top; --y) {
    for (int x = xoff; x < xoff + width; ++x) {
      if (y == top && (x <= xoff + 1 || x >= xoff + width - 2)) continue;  // a roof with its corners cut
      int pixel = color;
      if (windows && x > xoff + 1 && x < xoff + width - 2 && y > top + 1 && y < bottom - 1) {
        const int relx = x - (xoff + 1), rely = y - (top + 1);
        if (relx / 2 % 2 && rely % 2) {  // windows two pixels wide, one tall
          do pixel = 1 + randomBelow(2);
          while (pixel == color);
          if (relx % 2) pixel = c.get(x - 1, y);
        }
      }
      c.set(x, y, pixel);
    }
  }
}

std::string skyline(long columns, long rows) {
  Canvas c(static_cast<int>(columns), static_cast<int>(rows), 3);
  for (int color = 2; color >= 1; --color) {  // two grays behind, the lighter further back
    for (int offset = -10; offset < c.width();) {
      offset += randomBelow(8);
      const int width = 10 + randomBelow(9);
      const int height = c.height() / 2 + randomBelow(c.height()) / (color == 2 ? 2 : 3);
      skyscraper(c, offset, width, height, false, color);
      offset += color == 2 ? width / 2 : width + 1;
    }
  }
  for (int offset = -10; offset < c.width();) {
    offset += randomBelow(8);
    int width = 5 + randomBelow(14);
    if (width % 4) width += width % 3;
    skyscraper(c, offset, width, c.height() / 3 + randomBelow(c.height()) / 2, true, 0);
    offset += width + 5;
  }
  static constexpr const char* kEscapes[] = {"0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m"};
  std::string text;
  for (int y = 0; y < c.height(); ++y) {
    for (int x = 0; x < c.width(); ++x) text += std::string("\033[") + kEscapes[c.get(x, y) & 3] + " \033[0m";
    if (y != c.height() - 1) text += '\n';
  }
  return text + "\nDedicated to the 8 bit game developers of past and present.\n"
                "Original 8 bit image from Plaguemon by hikikomori. Redis ver. " +
         std::string(kRedisCompatibleVersion) + "\n";
}

// The numbers after LOLWUT's version (defaults kept), each clamped; false
// after replying Redis's error.
bool numbersOrReply(CommandContext& ctx, std::span<const std::string_view> args, std::span<long> into,
                    std::span<const std::pair<long, long>> limits) {
  for (std::size_t i = 0; i < into.size() && i < args.size(); ++i) {
    const auto n = parseInteger(args[i]);
    if (!n) {
      ctx.reply.error(kNotInteger);
      return false;
    }
    into[i] = static_cast<long>(*n);
  }
  for (std::size_t i = 0; i < into.size(); ++i) into[i] = std::clamp(into[i], limits[i].first, limits[i].second);
  return true;
}

}  // namespace

void lolwut(CommandContext& ctx) {
  long long version = 7;
  std::span<const std::string_view> rest = ctx.args.subspan(1);
  if (ctx.args.size() >= 3 && equalsIgnoreCase(ctx.args[1], "version")) {
    const auto v = parseInteger(ctx.args[2]);
    if (!v) return ctx.reply.error(kNotInteger);
    version = *v;
    rest = ctx.args.subspan(3);
  }
  if (version == 5) {
    long values[] = {66, 8, 12};
    constexpr std::pair<long, long> kLimits[] = {{1, 1000}, {1, 200}, {1, 200}};
    if (!numbersOrReply(ctx, rest, values, kLimits)) return;
    return ctx.reply.verbatim(schotter(values[0], values[1], values[2]));
  }
  if (version == 6) {
    long values[] = {80, 20};
    constexpr std::pair<long, long> kLimits[] = {{1, 1000}, {1, 1000}};
    if (!numbersOrReply(ctx, rest, values, kLimits)) return;
    return ctx.reply.verbatim(skyline(values[0], values[1]));
  }
  ctx.reply.verbatim("Redis ver. " + std::string(kRedisCompatibleVersion) + "\n");
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> lolwutCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "lolwut", .arity = -1, .flags = kReadonly | kFast,
       .handler = lolwut},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
