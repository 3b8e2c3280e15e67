#include "worker/keyspace/geohash.h"

#include <cmath>

namespace keyloop::geo {

namespace {

constexpr double kEarthRadius = 6372797.560856;
constexpr double kMercatorMax = 20037726.37;
constexpr double kDegToRad = M_PI / 180.0;

double toRadians(double degrees) { return degrees * kDegToRad; }
double toDegrees(double radians) { return radians / kDegToRad; }

std::uint64_t interleave(std::uint32_t xlo, std::uint32_t ylo) {
  static constexpr std::uint64_t B[] = {0x5555555555555555ULL, 0x3333333333333333ULL, 0x0F0F0F0F0F0F0F0FULL,
                                        0x00FF00FF00FF00FFULL, 0x0000FFFF0000FFFFULL};
  static constexpr unsigned S[] = {1, 2, 4, 8, 16};
  std::uint64_t x = xlo, y = ylo;
  for (int i = 4; i >= 0; --i) {
    x = (x | (x << S[i])) & B[i];
    y = (y | (y << S[i])) & B[i];
  }
  return x | (y << 1);
}

std::uint64_t deinterleave(std::uint64_t interleaved) {
  static constexpr std::uint64_t B[] = {0x5555555555555555ULL, 0x3333333333333333ULL, 0x0F0F0F0F0F0F0F0FULL,
                                        0x00FF00FF00FF00FFULL, 0x0000FFFF0000FFFFULL, 0x00000000FFFFFFFFULL};
  static constexpr unsigned S[] = {0, 1, 2, 4, 8, 16};
  std::uint64_t x = interleaved, y = interleaved >> 1;
  for (int i = 0; i <= 5; ++i) {
    x = (x | (x >> S[i])) & B[i];
    y = (y | (y >> S[i])) & B[i];
  }
  return x | (y << 32);
}

// Moves the hash one box along the bits of `moving` (longitude: the odd
// bits, latitude: the even ones), forwards (d > 0) or back; the carry runs
// through the other bits, which are filled for it and masked off after.
void move(Hash& h, int d, std::uint64_t moving) {
  if (d == 0) return;
  const std::uint64_t other = ~moving;
  std::uint64_t m = h.bits & moving;
  const std::uint64_t kept = h.bits & other;
  const std::uint64_t zz = other >> (64 - h.step * 2);
  if (d > 0) {
    m = m + (zz + 1);
  } else {
    m = m | zz;
    m = m - (zz + 1);
  }
  m &= (moving >> (64 - h.step * 2));
  h.bits = m | kept;
}

Hash moved(Hash h, int dx, int dy) {
  move(h, dx, 0xaaaaaaaaaaaaaaaaULL);
  move(h, dy, 0x5555555555555555ULL);
  return h;
}

constexpr Range kLongRange{kLongMin, kLongMax}, kLatRange{kLatMin, kLatMax};

int estimateSteps(double meters, double lat) {
  if (meters == 0) return 26;
  int step = 1;
  while (meters < kMercatorMax) {
    meters *= 2;
    ++step;
  }
  step -= 2;
  if (lat > 66 || lat < -66) {
    --step;
    if (lat > 80 || lat < -80) --step;
  }
  return step < 1 ? 1 : step > 26 ? 26 : step;
}

}  // namespace

bool encode(Range longitude, Range latitude, double lon, double lat, int step, Hash& out) {
  if (step > 32 || step == 0) return false;
  if (lon > kLongMax || lon < kLongMin || lat > kLatMax || lat < kLatMin) return false;
  out.bits = 0;
  out.step = step;
  if (lat < latitude.min || lat > latitude.max || lon < longitude.min || lon > longitude.max) return false;
  double latOffset = (lat - latitude.min) / (latitude.max - latitude.min);
  double longOffset = (lon - longitude.min) / (longitude.max - longitude.min);
  latOffset *= static_cast<double>(1ULL << step);
  longOffset *= static_cast<double>(1ULL << step);
  out.bits = interleave(static_cast<std::uint32_t>(latOffset), static_cast<std::uint32_t>(longOffset));
  return true;
}

bool encode(double lon, double lat, int step, Hash& out) { return encode(kLongRange, kLatRange, lon, lat, step, out); }

Area decode(Range longitude, Range latitude, Hash hash) {
  Area area{hash, {}, {}};
  const std::uint64_t separated = deinterleave(hash.bits);
  const double latScale = latitude.max - latitude.min, longScale = longitude.max - longitude.min;
  const auto ilato = static_cast<std::uint32_t>(separated);
  const auto ilono = static_cast<std::uint32_t>(separated >> 32);
  const double cells = static_cast<double>(1ull << hash.step);
  area.latitude.min = latitude.min + (ilato * 1.0 / cells) * latScale;
  area.latitude.max = latitude.min + ((ilato + 1) * 1.0 / cells) * latScale;
  area.longitude.min = longitude.min + (ilono * 1.0 / cells) * longScale;
  area.longitude.max = longitude.min + ((ilono + 1) * 1.0 / cells) * longScale;
  return area;
}

std::uint64_t align52(Hash hash) { return hash.bits << (52 - hash.step * 2); }

bool decodeScore(double score, double& lon, double& lat) {
  const Hash hash{static_cast<std::uint64_t>(score), kStepMax};
  if (hash.zero()) return false;
  const Area area = decode(kLongRange, kLatRange, hash);
  lon = (area.longitude.min + area.longitude.max) / 2;
  lon = lon > kLongMax ? kLongMax : lon < kLongMin ? kLongMin : lon;
  lat = (area.latitude.min + area.latitude.max) / 2;
  lat = lat > kLatMax ? kLatMax : lat < kLatMin ? kLatMin : lat;
  return true;
}

double latitudeDistance(double lat1, double lat2) {
  return kEarthRadius * std::fabs(toRadians(lat2) - toRadians(lat1));
}

double distance(double lon1, double lat1, double lon2, double lat2) {
  const double lon1r = toRadians(lon1), lon2r = toRadians(lon2);
  const double v = std::sin((lon2r - lon1r) / 2);
  if (v == 0.0) return latitudeDistance(lat1, lat2);
  const double lat1r = toRadians(lat1), lat2r = toRadians(lat2);
  const double u = std::sin((lat2r - lat1r) / 2);
  const double a = u * u + std::cos(lat1r) * std::cos(lat2r) * v * v;
  return 2.0 * kEarthRadius * std::asin(std::sqrt(a));
}

std::array<Hash, 9> boxesAround(const Shape& shape) {
  const double height = shape.toMeters * (shape.circle ? shape.radius : shape.height / 2);
  const double width = shape.toMeters * (shape.circle ? shape.radius : shape.width / 2);
  const double latDelta = toDegrees(height / kEarthRadius);
  const double longDeltaTop = toDegrees(width / kEarthRadius / std::cos(toRadians(shape.lat + latDelta)));
  const double longDeltaBottom = toDegrees(width / kEarthRadius / std::cos(toRadians(shape.lat - latDelta)));
  const bool south = shape.lat < 0;
  const double minLon = south ? shape.lon - longDeltaBottom : shape.lon - longDeltaTop;
  const double maxLon = south ? shape.lon + longDeltaBottom : shape.lon + longDeltaTop;
  const double minLat = shape.lat - latDelta, maxLat = shape.lat + latDelta;
  double radiusMeters = shape.circle ? shape.radius
                                     : std::sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2));
  radiusMeters *= shape.toMeters;
  int steps = estimateSteps(radiusMeters, shape.lat);
  Hash hash;
  encode(shape.lon, shape.lat, steps, hash);
  auto around = [](Hash h) {
    // centre, N, S, E, W, NE, NW, SE, SW
    return std::array<Hash, 9>{h, moved(h, 0, 1), moved(h, 0, -1), moved(h, 1, 0), moved(h, -1, 0),
                               moved(h, 1, 1), moved(h, -1, 1), moved(h, 1, -1), moved(h, -1, -1)};
  };
  std::array<Hash, 9> boxes = around(hash);
  Area area = decode(kLongRange, kLatRange, hash);
  const Area north = decode(kLongRange, kLatRange, boxes[1]), southBox = decode(kLongRange, kLatRange, boxes[2]);
  const Area east = decode(kLongRange, kLatRange, boxes[3]), west = decode(kLongRange, kLatRange, boxes[4]);
  const bool decrease = north.latitude.max < maxLat || southBox.latitude.min > minLat ||
                        east.longitude.max < maxLon || west.longitude.min > minLon;
  if (steps > 1 && decrease) {
    --steps;
    encode(shape.lon, shape.lat, steps, hash);
    boxes = around(hash);
    area = decode(kLongRange, kLatRange, hash);
  }
  if (steps >= 2) {
    auto clear = [&](std::initializer_list<int> which) {
      for (int i : which) boxes[static_cast<std::size_t>(i)] = Hash{};
    };
    if (area.latitude.min < minLat) clear({2, 8, 7});
    if (area.latitude.max > maxLat) clear({1, 5, 6});
    if (area.longitude.min < minLon) clear({4, 8, 6});
    if (area.longitude.max > maxLon) clear({3, 7, 5});
  }
  return boxes;
}

bool within(const Shape& shape, double lon, double lat, double& meters) {
  if (shape.circle) {
    meters = distance(shape.lon, shape.lat, lon, lat);
    return meters <= shape.radius * shape.toMeters;
  }
  if (latitudeDistance(lat, shape.lat) > shape.height * shape.toMeters / 2) return false;
  if (distance(lon, lat, shape.lon, lat) > shape.width * shape.toMeters / 2) return false;
  meters = distance(shape.lon, shape.lat, lon, lat);
  return true;
}

}  // namespace keyloop::geo
