// Geohash: Redis's geo encoding, so that positions, hashes and distances
// print exactly as Redis prints them. A point is a 52-bit interleaved
// geohash (26 steps of longitude and latitude, latitude limited to
// +-85.05112878 as in Web Mercator) used as a sorted-set score; a search
// covers the 3x3 geohash boxes around its centre at a step fitted to the
// radius (geohash_helper.c's estimate), then filters by true distance.
#pragma once

#include <array>
#include <cstdint>

namespace keyloop::geo {

inline constexpr double kLongMin = -180, kLongMax = 180;
inline constexpr double kLatMin = -85.05112878, kLatMax = 85.05112878;
inline constexpr int kStepMax = 26;

struct Hash {
  std::uint64_t bits = 0;
  int step = 0;
  bool zero() const { return bits == 0 && step == 0; }
};

struct Range {
  double min, max;
};
struct Area {
  Hash hash;
  Range longitude, latitude;
};

// false when the point is outside the ranges.
bool encode(Range longitude, Range latitude, double lon, double lat, int step, Hash& out);
bool encode(double lon, double lat, int step, Hash& out);  // Redis's ranges
Area decode(Range longitude, Range latitude, Hash hash);
// The score of a full-precision point, and back.
std::uint64_t align52(Hash hash);
bool decodeScore(double score, double& lon, double& lat);

// Haversine distance in metres (Redis's earth radius).
double distance(double lon1, double lat1, double lon2, double lat2);
double latitudeDistance(double lat1, double lat2);

// What a search looks at: the centre's box and its eight neighbours
// (zero when not needed), in Redis's order: centre, N, S, E, W, NE, NW, SE, SW.
struct Shape {
  bool circle = true;
  double lon = 0, lat = 0;
  double radius = 0, width = 0, height = 0;  // in the unit
  double toMeters = 1;
};
std::array<Hash, 9> boxesAround(const Shape& shape);
// Whether a point is inside the shape; `meters` gets its distance from the centre.
bool within(const Shape& shape, double lon, double lat, double& meters);

}  // namespace keyloop::geo
