// Compile .vue single-file components and resolve `vue` to the same file large_image bundles, so the
// DLL reference to large_image's bundle reuses its Vue instead of shipping a second copy.
const {VueLoaderPlugin} = require('vue-loader');

module.exports = function (config) {
    config.module.rules.push({
        resource: {test: /\.vue$/},
        use: [require.resolve('vue-loader')]
    });
    config.resolve = config.resolve || {};
    config.resolve.alias = Object.assign({}, config.resolve.alias, {
        vue: process.env.NODE_ENV === 'production' ? 'vue/dist/vue.min.js' : 'vue/dist/vue.js'
    });
    config.plugins.push(new VueLoaderPlugin());
    return config;
};
